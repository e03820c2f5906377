# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The paragraph walk of :mod:`chromesift.data.html` over lexbor's HTML5 tree, in C.

lexbor (the parser of selectolax and resiliparse) parses a modern page in about half the
time libxml2 takes. No package ships its headers, but selectolax's extension module
exports lexbor's functions, among them the ``_noi`` ("no inline") accessors lexbor
provides for bindings. This module declares the few it calls, and :func:`bind` looks
them up in that module, already loaded by ``import selectolax.lexbor``: nothing of lexbor
is needed to build it, and where the functions are not found (no selectolax, or a
version that no longer exports them) :mod:`chromesift.data.lexbor` says so and the lxml
walk is used.

The walk itself is that of ``_walk_core.pxi``, the same code as the lxml walk, reading
lexbor's nodes through the accessors below. lexbor builds the tree as browsers do
(HTML5), libxml2 does not, so a few pages have other paragraphs (docs/results.md).
"""

from libc.string cimport memcmp

cdef extern from "<dlfcn.h>" nogil:
    void* dlopen(const char* filename, int flags)
    void* dlsym(void* handle, const char* symbol)
    int RTLD_NOW
    int RTLD_LOCAL
    int RTLD_NOLOAD

include "_walk_core.pxi"


# --- lexbor's functions, found at run time (bind) -----------------------------------------

ctypedef void* (*new_doc_f)() noexcept nogil
ctypedef unsigned int (*parse_f)(void* doc, const unsigned char* html, size_t size) noexcept nogil
ctypedef void* (*node_f)(void* node) noexcept nogil
ctypedef int (*node_int_f)(void* node) noexcept nogil
ctypedef uintptr_t (*node_id_f)(void* node) noexcept nogil
ctypedef const unsigned char* (*node_str_f)(void* node, size_t* size) noexcept nogil

ctypedef struct Lexbor:
    new_doc_f document_create       # lxb_html_document_create
    parse_f document_parse          # lxb_html_document_parse
    node_f document_destroy         # lxb_html_document_destroy
    node_f first_child              # lxb_dom_node_first_child_noi
    node_f next                     # lxb_dom_node_next_noi
    node_f parent                   # lxb_dom_node_parent_noi
    node_int_f node_type            # lxb_dom_node_type_noi
    node_id_f tag_id                # lxb_dom_node_tag_id_noi
    node_str_f local_name           # lxb_dom_element_local_name
    node_f first_attribute          # lxb_dom_element_first_attribute_noi
    node_f next_attribute           # lxb_dom_element_next_attribute_noi
    node_str_f attr_name            # lxb_dom_attr_local_name_noi
    node_str_f attr_value           # lxb_dom_attr_value_noi
    node_str_f text_content         # lxb_dom_node_text_content

#: the functions, in the order of the struct's fields
FUNCTIONS = (
    "lxb_html_document_create", "lxb_html_document_parse", "lxb_html_document_destroy",
    "lxb_dom_node_first_child_noi", "lxb_dom_node_next_noi", "lxb_dom_node_parent_noi",
    "lxb_dom_node_type_noi", "lxb_dom_node_tag_id_noi", "lxb_dom_element_local_name",
    "lxb_dom_element_first_attribute_noi", "lxb_dom_element_next_attribute_noi",
    "lxb_dom_attr_local_name_noi", "lxb_dom_attr_value_noi", "lxb_dom_node_text_content",
)

cdef Lexbor lxb
cdef unsigned char _EMPTY[1]
cdef bint bound = False

# lexbor's node types (lxb_dom_node_type_t, the DOM's numbers)
cdef enum:
    T_ELEMENT = 1
    T_TEXT = 3
    T_CDATA = 4
    T_ENTITY_REF = 5
    T_PI = 7
    T_COMMENT = 8


def bind(str path):
    """Find lexbor's functions in the loaded extension module at ``path`` (selectolax's) and
    read pages with them from now on; ImportError where the module is not loaded or lacks
    one of them (then the functions found before, if any, stay)."""
    global bound
    cdef void* handle
    cdef void* found[14]
    cdef int i
    if len(FUNCTIONS) != 14:
        raise RuntimeError("FUNCTIONS and the Lexbor struct disagree")
    encoded = path.encode()
    # RTLD_NOLOAD: only a module Python has loaded already (no code runs on this open)
    handle = dlopen(encoded, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)
    if handle is NULL:
        raise ImportError(f"{path} is not loaded")
    for i, name in enumerate(FUNCTIONS):
        found[i] = dlsym(handle, name.encode())
        if found[i] is NULL:
            raise ImportError(f"{path} does not export {name}")
    # the handle stays open: the module stays loaded as long as Python runs anyway
    lxb.document_create = <new_doc_f>found[0]
    lxb.document_parse = <parse_f>found[1]
    lxb.document_destroy = <node_f>found[2]
    lxb.first_child = <node_f>found[3]
    lxb.next = <node_f>found[4]
    lxb.parent = <node_f>found[5]
    lxb.node_type = <node_int_f>found[6]
    lxb.tag_id = <node_id_f>found[7]
    lxb.local_name = <node_str_f>found[8]
    lxb.first_attribute = <node_f>found[9]
    lxb.next_attribute = <node_f>found[10]
    lxb.attr_name = <node_str_f>found[11]
    lxb.attr_value = <node_str_f>found[12]
    lxb.text_content = <node_str_f>found[13]
    bound = True


# --- lexbor's nodes, as the walk of _walk_core.pxi reads them -------------------------------

cdef inline int _n_kind(void* node) noexcept nogil:
    cdef int t = lxb.node_type(node)
    if t == T_ELEMENT:
        return N_ELEMENT
    if t == T_COMMENT or t == T_PI:
        return N_INVISIBLE
    if t == T_ENTITY_REF:
        return N_ENTITY
    return N_OTHER


cdef inline void* _n_next(void* node) noexcept nogil:
    return lxb.next(node)


cdef inline void* _n_first_child(void* node) noexcept nogil:
    return lxb.first_child(node)


cdef inline void* _n_text_or_skip(void* node) noexcept nogil:
    cdef int t
    if node is NULL:
        return NULL
    t = lxb.node_type(node)
    return node if t == T_TEXT or t == T_CDATA else NULL


cdef inline const unsigned char* _n_text(void* node, Py_ssize_t* n) noexcept nogil:
    # a copy in the document's memory, freed with the document
    cdef size_t size = 0
    cdef const unsigned char* s = lxb.text_content(node, &size)
    n[0] = <Py_ssize_t>size if s is not NULL else 0
    return s


cdef inline uintptr_t _n_tag_key(void* node) noexcept nogil:
    # lexbor numbers tag names per document (known ones fixed, others as met)
    return lxb.tag_id(node) + 1


cdef str _n_tag_name(void* node):
    cdef size_t size = 0
    cdef const unsigned char* name = lxb.local_name(node, &size)
    if name is NULL:
        return ""
    return PyUnicode_DecodeUTF8(<const char*>name, size, "replace")


cdef inline int _attr_id(const unsigned char* s, size_t n) noexcept nogil:
    if n == 5 and memcmp(s, b"class", 5) == 0:
        return A_CLASS
    if n == 2 and memcmp(s, b"id", 2) == 0:
        return A_ID
    if n == 4:
        if memcmp(s, b"role", 4) == 0:
            return A_ROLE
        if memcmp(s, b"href", 4) == 0:
            return A_HREF
    if n == 5 and memcmp(s, b"style", 5) == 0:
        return A_STYLE
    if n == 6 and memcmp(s, b"hidden", 6) == 0:
        return A_HIDDEN
    return -1


cdef inline void _n_find_attrs(void* node, void** found) noexcept nogil:
    # HTML5 keeps the first of repeated attributes only (as libxml2's first one is read)
    cdef void* a = lxb.first_attribute(node)
    cdef const unsigned char* name
    cdef size_t size
    cdef int k
    memset(found, 0, N_ATTRS * sizeof(void*))
    while a is not NULL:
        name = lxb.attr_name(a, &size)
        if name is not NULL:
            k = _attr_id(name, size)
            if k >= 0 and found[k] is NULL:
                found[k] = a
        a = lxb.next_attribute(a)


cdef object _n_attr_value(void* node, void* a):
    cdef size_t size = 0
    cdef const unsigned char* value
    if a is NULL:
        return None
    value = lxb.attr_value(a, &size)
    if value is NULL:
        return ""
    return PyUnicode_DecodeUTF8(<const char*>value, size, "replace")


cdef inline const unsigned char* _n_attr_text(void* a) noexcept nogil:
    # lexbor's strings end in a NUL, as the walk's C matching of a style value needs
    cdef size_t size = 0
    return lxb.attr_value(a, &size)


cdef void* _first_named(void* top, const char* name, size_t n) noexcept nogil:
    """The first element below ``top`` in document order named ``name``; NULL if none."""
    cdef void* c = lxb.first_child(top)
    cdef void* down
    cdef const unsigned char* local
    cdef size_t size
    while c is not NULL:
        if lxb.node_type(c) == T_ELEMENT:
            local = lxb.local_name(c, &size)
            if local is not NULL and size == n and memcmp(local, name, n) == 0:
                return c
            down = lxb.first_child(c)
            if down is not NULL:
                c = down
                continue
        while lxb.next(c) is NULL:
            c = lxb.parent(c)
            if c is NULL or c == top:
                return NULL
        c = lxb.next(c)
    return NULL


cdef class Document:
    """A page parsed by lexbor (UTF-8 bytes in), freed with this object."""

    cdef void* doc
    cdef void* root

    def __cinit__(self, const unsigned char[::1] data):
        cdef unsigned int status
        cdef void* c
        cdef size_t size = data.shape[0]
        cdef const unsigned char* start = &data[0] if size else &_EMPTY[0]
        self.doc = NULL
        self.root = NULL
        if not bound:
            raise RuntimeError("lexbor's functions are not bound (chromesift.data.lexbor)")
        self.doc = lxb.document_create()
        if self.doc is NULL:
            raise MemoryError()
        with nogil:
            status = lxb.document_parse(self.doc, start, size)
        if status != 0:
            raise MemoryError(f"lexbor could not parse the page (status {status})")
        # the <html> element: the document's first element child
        c = lxb.first_child(self.doc)
        while c is not NULL and lxb.node_type(c) != T_ELEMENT:
            c = lxb.next(c)
        self.root = c

    def __dealloc__(self):
        if self.doc is not NULL:
            lxb.document_destroy(self.doc)
            self.doc = NULL

    def has(self, str name):
        """Whether an element named ``name`` (lowercase) is in the page."""
        encoded = name.encode()
        return self.root is not NULL and _first_named(self.root, encoded, len(encoded)) is not NULL

    def text_of_first(self, str name):
        """The text of the first element named ``name`` (its descendants' text), else None."""
        cdef size_t size = 0
        cdef const unsigned char* text
        cdef void* el
        encoded = name.encode()
        if self.root is NULL:
            return None
        el = _first_named(self.root, encoded, len(encoded))
        if el is NULL:
            return None
        text = lxb.text_content(el, &size)
        return PyUnicode_DecodeUTF8(<const char*>text, size, "replace") if text is not NULL else ""

    def walk(self, dict cols, list flag_names, skip_tags, block_tags, flag_tags, role_flags,
             hidden_search, tokens_fn, dict token_cache, int max_ancestor_attrs, int max_path_tags,
             Py_ssize_t token_cache_max=-1):
        """``chromesift.data.walk_kernels.walk`` over this page's tree (the same arguments,
        without the root): fills ``cols`` and returns the elements' paragraph ranges."""
        cdef _Walk w
        if self.root is NULL:
            return []
        w = _Walk()
        w.setup(cols, flag_names, skip_tags, block_tags, flag_tags, role_flags, hidden_search,
                tokens_fn, token_cache, max_ancestor_attrs, max_path_tags, token_cache_max)
        w.run(self.root)
        return w.ranges
