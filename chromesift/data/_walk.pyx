# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The paragraph walk of :mod:`chromesift.data.html` over libxml2's tree, in C.

:func:`walk` gives exactly what its Python reference in :mod:`chromesift.data.walk_kernels`
gives (which runs where this is not built), without a Python object per node: it reads
libxml2's nodes through lxml's public C API, keeps the text of the open paragraph as
UTF-8 bytes, and calls into Python only per paragraph, per distinct tag name, per
``class``/``id``/``role`` value it needs (tokenising new ASCII ones itself) and per
non-ASCII ``style`` value (ASCII ones are matched in C).

What lxml's ``iterwalk``, ``.text``, ``.tail`` and ``.get`` do is followed node type by
node type: adjacent text and CDATA nodes make one text (XInclude markers skipped),
comments and PIs are invisible but the text after them counts, an attribute is the
first one of that name in no namespace.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport Py_UNICODE_ISSPACE, PyUnicode_DecodeUTF8
from libc.string cimport memchr, memcpy, memset, strcmp, strlen

import re

cimport lxml.includes.etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport const_xmlChar

cdef extern from "Python.h":
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    object PyUnicode_Substring(object s, Py_ssize_t start, Py_ssize_t end)
    bint PyUnicode_IS_COMPACT_ASCII(PyObject* o)
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject* o)
    unsigned char* PyUnicode_1BYTE_DATA(object o)
    object PyUnicode_New(Py_ssize_t size, Py_UCS4 maxchar)
    PyObject** PySequence_Fast_ITEMS(object o)

cetree.import_lxml__etree()

# kinds of tag name, a bit set
cdef enum:
    K_SKIP = 1
    K_BLOCK = 2
    K_BR = 4
    K_A = 8

# attributes the walk reads
cdef enum:
    A_CLASS = 0
    A_ID = 1
    A_ROLE = 2
    A_STYLE = 3
    A_HIDDEN = 4
    A_HREF = 5
    N_ATTRS = 6

cdef enum:
    MAX_FLAGS = 64


ctypedef struct Frame:
    tree.xmlNode* node
    tree.xmlNode* next_child  # the next child node to visit
    int tag                   # index into the walk's tag table
    int flag_a                # flag indices this element sets, -1 for none
    int flag_b
    bint block
    Py_ssize_t serial
    Py_ssize_t first          # paragraphs before it
    PyObject* tokens          # class/id/role tokens (a tuple), owned; NULL until needed


cdef inline Py_ssize_t _utf8_next(const unsigned char* s, Py_ssize_t i, Py_ssize_t n,
                                  Py_UCS4* cp) noexcept nogil:
    """Decode the code point at ``s[i]``; return its length in bytes."""
    cdef unsigned char c = s[i]
    if c < 0x80:
        cp[0] = c
        return 1
    if c >= 0xF0 and i + 3 < n:
        cp[0] = ((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F)
        return 4
    if c >= 0xE0 and i + 2 < n:
        cp[0] = ((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
        return 3
    if c >= 0xC0 and i + 1 < n:
        cp[0] = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F)
        return 2
    # not UTF-8: counts as one visible character (decoding the paragraph will raise)
    cp[0] = 0xFFFD
    return 1


cdef inline tree.xmlNode* _text_node_or_skip(tree.xmlNode* c) noexcept nogil:
    # lxml's _textNodeOrSkip
    while c is not NULL:
        if c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE:
            return c
        if c.type == tree.XML_XINCLUDE_START or c.type == tree.XML_XINCLUDE_END:
            c = c.next
        else:
            return NULL
    return NULL


cdef inline bint _is_element_like(tree.xmlNode* c) noexcept nogil:
    # lxml's _isElement: the nodes iterwalk stops at
    return (c.type == tree.XML_ELEMENT_NODE or c.type == tree.XML_COMMENT_NODE
            or c.type == tree.XML_ENTITY_REF_NODE or c.type == tree.XML_PI_NODE)


cdef int _attr_id(const_xmlChar* name) noexcept nogil:
    cdef const char* s = <const char*>name
    if s[0] == b'c':
        return A_CLASS if strcmp(s, "class") == 0 else -1
    if s[0] == b'i':
        return A_ID if strcmp(s, "id") == 0 else -1
    if s[0] == b'r':
        return A_ROLE if strcmp(s, "role") == 0 else -1
    if s[0] == b's':
        return A_STYLE if strcmp(s, "style") == 0 else -1
    if s[0] == b'h':
        if strcmp(s, "hidden") == 0:
            return A_HIDDEN
        return A_HREF if strcmp(s, "href") == 0 else -1
    return -1


cdef inline void _find_attrs(tree.xmlNode* node, tree.xmlAttr** found) noexcept nogil:
    """The first attribute in no namespace of each name the walk reads (as xmlGetNsProp)."""
    cdef tree.xmlAttr* a = node.properties
    cdef int k
    memset(found, 0, N_ATTRS * sizeof(tree.xmlAttr*))
    while a is not NULL:
        if a.ns is NULL:
            k = _attr_id(a.name)
            if k >= 0 and found[k] is NULL:
                found[k] = a
        a = a.next


cdef object _attr_value(tree.xmlNode* node, tree.xmlAttr* a):
    """``el.get(name)`` for an attribute found by :func:`_find_attrs` (None if absent)."""
    cdef tree.xmlNode* ch
    if a is NULL:
        return None
    ch = a.children
    if (ch is not NULL and ch.next is NULL and ch.content is not NULL
            and (ch.type == tree.XML_TEXT_NODE or ch.type == tree.XML_CDATA_SECTION_NODE)):
        # libxml2's own shortcut for one text child: the value is its content
        return PyUnicode_DecodeUTF8(<const char*>ch.content, strlen(<const char*>ch.content), NULL)
    return cetree.attributeValueFromNsName(node, NULL, a.name)


cdef inline const unsigned char* _attr_text(tree.xmlAttr* a) noexcept nogil:
    """The value of an attribute with one text child (the usual shape) as UTF-8; else NULL."""
    cdef tree.xmlNode* ch = a.children
    if (ch is not NULL and ch.next is NULL and ch.content is not NULL
            and (ch.type == tree.XML_TEXT_NODE or ch.type == tree.XML_CDATA_SECTION_NODE)):
        return <const unsigned char*>ch.content
    return NULL


#: the hidden-style pattern of ``html._walk`` that :func:`_hidden_ascii` implements; the walk
#: checks the pattern it is given against this and otherwise calls its search method
HIDDEN_STYLE_PATTERN = r"display\s*:\s*none|visibility\s*:\s*hidden"


cdef inline Py_ssize_t _match_word(const unsigned char* s, Py_ssize_t i, Py_ssize_t n,
                                   const char* word) noexcept:
    """Where ``word`` (lowercase ASCII) ends when ``s[i:]`` starts with it in any case; else -1."""
    cdef Py_ssize_t k = 0
    cdef unsigned char c
    while word[k]:
        if i + k >= n:
            return -1
        c = s[i + k]
        if c >= 65 and c <= 90:
            c += 32
        if c != <unsigned char>word[k]:
            return -1
        k += 1
    return i + k


cdef inline bint _declares(const unsigned char* s, Py_ssize_t i, Py_ssize_t n,
                           const char* prop, const char* value) noexcept:
    """``prop\\s*:\\s*value`` matches at ``s[i]`` (ASCII, any case)."""
    cdef Py_ssize_t j = _match_word(s, i, n, prop)
    if j < 0:
        return False
    while j < n and Py_UNICODE_ISSPACE(s[j]):
        j += 1
    if j >= n or s[j] != b':':
        return False
    j += 1
    while j < n and Py_UNICODE_ISSPACE(s[j]):
        j += 1
    return _match_word(s, j, n, value) >= 0


cdef int _hidden_ascii(const unsigned char* s) noexcept:
    """:data:`HIDDEN_STYLE_PATTERN` searched case-insensitively in an ASCII value: 1 found, 0 not,
    -1 when the value is not ASCII (there ``re`` folds case beyond ASCII: "ſ" is an "s")."""
    cdef Py_ssize_t n = 0, i
    while s[n]:
        if s[n] >= 0x80:
            return -1
        n += 1
    for i in range(n):
        if _declares(s, i, n, "display", "none") or _declares(s, i, n, "visibility", "hidden"):
            return 1
    return 0


cdef object _join_ascii(unsigned char sep, PyObject** items, Py_ssize_t n):
    """``chr(sep).join(items)`` (``sep`` ASCII) without a list, in one piece when every item is
    ASCII (the usual case): the walk joins a path and two token lists per paragraph."""
    cdef Py_ssize_t k, total = 0, at = 0, m
    cdef unsigned char* out_data
    if n == 0:
        return ""
    if n == 1:
        return <object>items[0]
    for k in range(n):
        if not PyUnicode_IS_COMPACT_ASCII(items[k]):
            return chr(sep).join([<object>items[k] for k in range(n)])
        total += PyUnicode_GET_LENGTH(items[k])
    out = PyUnicode_New(total + n - 1, 127)
    out_data = PyUnicode_1BYTE_DATA(out)
    for k in range(n):
        if k:
            out_data[at] = sep
            at += 1
        m = PyUnicode_GET_LENGTH(items[k])
        memcpy(out_data + at, PyUnicode_1BYTE_DATA(<object>items[k]), m)
        at += m
    return out


cdef class _Walk:
    # configuration
    cdef object skip_tags, block_tags, flag_tags, role_flags, hidden_search, tokens_fn
    cdef dict flag_index, token_cache
    cdef int n_flags, in_a, max_anc, max_path
    cdef Py_ssize_t token_cache_max  # tokenise ASCII misses here while the cache is no bigger
    cdef bint c_style                 # hidden_search is HIDDEN_STYLE_PATTERN's: match ASCII in C
    # the items of the string joined last (borrowed references)
    cdef PyObject** jitems
    cdef Py_ssize_t jcap
    # output columns
    cdef list texts, tags, paths, depths, block_ids, anc1s, anc2s, anc3s, owns, ancs
    cdef list links, link_chars, ranges
    cdef list flag_cols
    # tag table: name pointer -> index (open addressing), per index its str, kind, flag
    cdef const_xmlChar** hkeys
    cdef int* hvals
    cdef Py_ssize_t hcap, hcount
    cdef list tag_strs
    cdef int* tag_kind
    cdef int* tag_flag
    cdef Py_ssize_t tag_cap
    # open elements
    cdef Frame* stack
    cdef Py_ssize_t depth, stack_cap
    cdef int counts[MAX_FLAGS]
    # the open paragraph: UTF-8 text, link characters and links
    cdef unsigned char* buf
    cdef Py_ssize_t blen, bcap
    cdef unsigned char* nbuf
    cdef Py_ssize_t ncap
    cdef Py_ssize_t n_chars, n_links
    cdef bint pending_br
    cdef Py_ssize_t serial

    def __cinit__(self):
        self.hkeys = NULL
        self.hvals = NULL
        self.tag_kind = NULL
        self.tag_flag = NULL
        self.stack = NULL
        self.buf = NULL
        self.nbuf = NULL
        self.jitems = NULL
        self.depth = 0

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.stack is not NULL:
            for i in range(self.depth):
                Py_XDECREF(self.stack[i].tokens)
            PyMem_Free(self.stack)
        PyMem_Free(self.hkeys)
        PyMem_Free(self.hvals)
        PyMem_Free(self.tag_kind)
        PyMem_Free(self.tag_flag)
        PyMem_Free(self.buf)
        PyMem_Free(self.nbuf)
        PyMem_Free(self.jitems)

    cdef int setup(self, dict cols, list flag_names, skip_tags, block_tags, flag_tags,
                   role_flags, hidden_search, tokens_fn, dict token_cache, int max_anc,
                   int max_path, Py_ssize_t token_cache_max) except -1:
        cdef Py_ssize_t i
        if len(flag_names) > MAX_FLAGS:
            raise ValueError(f"at most {MAX_FLAGS} flags")
        self.skip_tags, self.block_tags, self.flag_tags = skip_tags, block_tags, flag_tags
        self.role_flags, self.hidden_search, self.tokens_fn = role_flags, hidden_search, tokens_fn
        self.token_cache = token_cache
        self.token_cache_max = token_cache_max
        pattern = getattr(hidden_search, "__self__", None)
        self.c_style = (isinstance(pattern, re.Pattern) and pattern.pattern == HIDDEN_STYLE_PATTERN
                        and pattern.flags == re.IGNORECASE | re.UNICODE)
        self.max_anc, self.max_path = max_anc, max_path
        self.flag_index = {name: i for i, name in enumerate(flag_names)}
        self.n_flags = len(flag_names)
        self.in_a = self.flag_index.get("in_a", -1)
        for i in range(MAX_FLAGS):
            self.counts[i] = 0
        self.texts, self.tags, self.paths, self.depths = cols["text"], cols["tag"], cols["path"], cols["depth"]
        self.block_ids, self.anc1s, self.anc2s, self.anc3s = cols["block_id"], cols["anc1"], cols["anc2"], cols["anc3"]
        self.owns, self.ancs, self.links, self.link_chars = cols["own_attrs"], cols["anc_attrs"], cols["n_links"], cols["link_chars"]
        self.flag_cols = [cols[name] for name in flag_names]
        self.ranges = []
        self.tag_strs = []
        self.hcap = 256
        self.hcount = 0
        self.hkeys = <const_xmlChar**>PyMem_Malloc(self.hcap * sizeof(const_xmlChar*))
        self.hvals = <int*>PyMem_Malloc(self.hcap * sizeof(int))
        self.tag_cap = 64
        self.tag_kind = <int*>PyMem_Malloc(self.tag_cap * sizeof(int))
        self.tag_flag = <int*>PyMem_Malloc(self.tag_cap * sizeof(int))
        self.stack_cap = 64
        self.stack = <Frame*>PyMem_Malloc(self.stack_cap * sizeof(Frame))
        self.bcap = 4096
        self.buf = <unsigned char*>PyMem_Malloc(self.bcap)
        self.ncap = 4096
        self.nbuf = <unsigned char*>PyMem_Malloc(self.ncap)
        self.jcap = 64
        self.jitems = <PyObject**>PyMem_Malloc(self.jcap * sizeof(PyObject*))
        if (self.hkeys is NULL or self.hvals is NULL or self.tag_kind is NULL
                or self.tag_flag is NULL or self.stack is NULL or self.buf is NULL
                or self.nbuf is NULL or self.jitems is NULL):
            raise MemoryError()
        memset(self.hkeys, 0, self.hcap * sizeof(const_xmlChar*))
        self.blen = 0
        self.n_chars = self.n_links = 0
        self.pending_br = False
        self.serial = -1
        return 0

    # --- tag names ---------------------------------------------------------------------

    cdef int _new_tag(self, const_xmlChar* name) except -1:
        name_str = PyUnicode_DecodeUTF8(<const char*>name, strlen(<const char*>name), NULL)
        # html._walk: the tag without a namespace ("{uri}name"), lowercase
        tag = name_str.rpartition("}")[2].lower()
        cdef Py_ssize_t idx = len(self.tag_strs)
        cdef int kind = 0
        cdef int* kinds
        cdef int* flags
        if idx >= self.tag_cap:
            self.tag_cap *= 2
            kinds = <int*>PyMem_Realloc(self.tag_kind, self.tag_cap * sizeof(int))
            if kinds is NULL:
                raise MemoryError()
            self.tag_kind = kinds
            flags = <int*>PyMem_Realloc(self.tag_flag, self.tag_cap * sizeof(int))
            if flags is NULL:
                raise MemoryError()
            self.tag_flag = flags
        if tag in self.skip_tags:
            kind |= K_SKIP
        if tag in self.block_tags:
            kind |= K_BLOCK
        if tag == "br":
            kind |= K_BR
        if tag == "a":
            kind |= K_A
        self.tag_kind[idx] = kind
        self.tag_flag[idx] = self.flag_index[self.flag_tags[tag]] if tag in self.flag_tags else -1
        self.tag_strs.append(tag)
        return <int>idx

    cdef int _grow_table(self) except -1:
        cdef const_xmlChar** old_keys = self.hkeys
        cdef int* old_vals = self.hvals
        cdef Py_ssize_t old_cap = self.hcap, i, h
        cdef Py_ssize_t cap = old_cap * 2
        self.hkeys = <const_xmlChar**>PyMem_Malloc(cap * sizeof(const_xmlChar*))
        self.hvals = <int*>PyMem_Malloc(cap * sizeof(int))
        if self.hkeys is NULL or self.hvals is NULL:
            PyMem_Free(old_keys)
            PyMem_Free(old_vals)
            raise MemoryError()
        memset(self.hkeys, 0, cap * sizeof(const_xmlChar*))
        self.hcap = cap
        for i in range(old_cap):
            if old_keys[i] is not NULL:
                h = ((<size_t>old_keys[i] >> 4) * <size_t>2654435761u) & (cap - 1)
                while self.hkeys[h] is not NULL:
                    h = (h + 1) & (cap - 1)
                self.hkeys[h] = old_keys[i]
                self.hvals[h] = old_vals[i]
        PyMem_Free(old_keys)
        PyMem_Free(old_vals)
        return 0

    cdef inline int tag_of(self, const_xmlChar* name) except -1:
        """Index of a tag name in the tag table (libxml2 interns names, so by pointer)."""
        cdef Py_ssize_t mask = self.hcap - 1
        cdef Py_ssize_t h = ((<size_t>name >> 4) * <size_t>2654435761u) & mask
        cdef int idx
        while self.hkeys[h] is not NULL:
            if self.hkeys[h] == name:
                return self.hvals[h]
            h = (h + 1) & mask
        idx = self._new_tag(name)
        self.hkeys[h] = name
        self.hvals[h] = idx
        self.hcount += 1
        if self.hcount * 2 > self.hcap:
            self._grow_table()
        return idx

    # --- text --------------------------------------------------------------------------

    cdef int _reserve(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t cap = self.bcap
        cdef unsigned char* b
        if self.blen + extra <= cap:
            return 0
        while self.blen + extra > cap:
            cap *= 2
        b = <unsigned char*>PyMem_Realloc(self.buf, cap)
        if b is NULL:
            raise MemoryError()
        self.buf = b
        self.bcap = cap
        return 0

    cdef int add_text(self, tree.xmlNode* first, bint element_text) except -1:
        """Append ``.text``/``.tail`` (the text nodes from ``first`` on) to the paragraph.

        ``element_text``: a start or end event's text, which also ends a pending ``<br>``;
        the tail of a comment or PI does not.
        """
        cdef tree.xmlNode* c = _text_node_or_skip(first)
        cdef Py_ssize_t start = self.blen, n, i, step, lo, hi, k
        cdef Py_UCS4 cp
        cdef bint all_space
        while c is not NULL:
            if c.content is not NULL:
                n = strlen(<const char*>c.content)
                if n:
                    self._reserve(n)
                    memcpy(self.buf + self.blen, c.content, n)
                    self.blen += n
            c = _text_node_or_skip(c.next)
        if self.blen == start:
            return 0
        cdef bint count_links = self.in_a >= 0 and self.counts[self.in_a] > 0
        cdef bint check_br = element_text and self.pending_br
        if not count_links and not check_br:
            return 0
        # len(text.strip()) and text.isspace(), in code points
        i = start
        k = 0
        lo = -1
        hi = -1
        while i < self.blen:
            if self.buf[i] < 0x80:  # ASCII inline: most text is
                cp = self.buf[i]
                step = 1
            else:
                step = _utf8_next(self.buf, i, self.blen, &cp)
            if not Py_UNICODE_ISSPACE(cp):
                if lo < 0:
                    lo = k
                hi = k
            i += step
            k += 1
        all_space = lo < 0
        if count_links and not all_space:
            self.n_chars += hi - lo + 1
        if check_br and not all_space:
            self.pending_br = False
        return 0

    cdef inline object value_tokens(self, str value):
        """``tokens_fn(value)``, read from its cache without a call where it is there.

        An ASCII value not there yet is tokenised and cached here, as ``tokens_fn`` would do,
        while the cache holds at most ``token_cache_max`` values (beyond that ``tokens_fn``
        empties it first); other values go to ``tokens_fn``.
        """
        cdef PyObject* hit = PyDict_GetItem(self.token_cache, value)
        if hit is not NULL:
            return <object>hit
        if PyUnicode_IS_COMPACT_ASCII(<PyObject*>value) and len(self.token_cache) <= self.token_cache_max:
            toks = _ascii_tokens(value)
            self.token_cache[value] = toks
            return toks
        return self.tokens_fn(value)

    cdef PyObject* tokens(self, Frame* fr) except NULL:
        """The class, id and role tokens of an element, as ``html._walk`` makes them (a
        tuple, borrowed: the frame holds it until the element closes)."""
        cdef tree.xmlAttr* found[N_ATTRS]
        cdef object toks
        if fr.tokens is NULL:
            _find_attrs(fr.node, found)
            cls = _attr_value(fr.node, found[A_CLASS])
            id_ = _attr_value(fr.node, found[A_ID])
            role = _attr_value(fr.node, found[A_ROLE])
            toks = (self.value_tokens(cls) if cls else ()) + (self.value_tokens(id_) if id_ else ())
            if role:
                toks += self.value_tokens(role)
            if type(toks) is not tuple:  # flush reads a tuple's items directly
                raise TypeError(f"tokens must be a tuple, not {type(toks).__name__}")
            Py_INCREF(toks)
            fr.tokens = <PyObject*>toks
        return fr.tokens

    cdef int _reserve_items(self, Py_ssize_t n) except -1:
        cdef PyObject** items
        if n <= self.jcap:
            return 0
        items = <PyObject**>PyMem_Realloc(self.jitems, n * sizeof(PyObject*))
        if items is NULL:
            raise MemoryError()
        self.jitems = items
        self.jcap = n
        return 0

    cdef int flush(self) except -1:
        cdef Py_ssize_t blen = self.blen, i = 0, o = 0, step, bi, j, kept, lo, m, k
        cdef Py_ssize_t n_chars, n_links, n
        cdef Py_UCS4 cp
        cdef bint started = False, space = False
        cdef unsigned char c
        cdef unsigned char* nb
        cdef const unsigned char* b = self.buf
        cdef Frame* block
        cdef PyObject* toks
        self.pending_br = False
        if blen == 0:
            return 0
        self.blen = 0
        n_chars, n_links = self.n_chars, self.n_links
        self.n_chars = self.n_links = 0
        # _WS.sub(" ", text).strip(), and text.isspace()
        if blen > self.ncap:
            nb = <unsigned char*>PyMem_Realloc(self.nbuf, blen)
            if nb is NULL:
                raise MemoryError()
            self.nbuf = nb
            self.ncap = blen
        nb = self.nbuf
        while i < blen:
            c = b[i]
            if c < 0x80:  # ASCII inline, a byte at a time (no memcpy call per character)
                if Py_UNICODE_ISSPACE(c):
                    space = started
                else:
                    if space:
                        nb[o] = b' '
                        o += 1
                        space = False
                    nb[o] = c
                    o += 1
                    started = True
                i += 1
                continue
            step = _utf8_next(b, i, blen, &cp)
            if Py_UNICODE_ISSPACE(cp):
                space = started
            else:
                if space:
                    nb[o] = b' '
                    o += 1
                    space = False
                for k in range(step):
                    nb[o + k] = b[i + k]
                o += step
                started = True
            i += step
        if not started:
            return 0
        text = PyUnicode_DecodeUTF8(<const char*>nb, o, NULL)
        # the paragraph belongs to the nearest open block element
        n = self.depth
        bi = n - 1
        while bi > 0 and not self.stack[bi].block:
            bi -= 1
        self.texts.append(text)
        if n:
            block = &self.stack[bi]
            self.tags.append(<object>PyList_GET_ITEM(self.tag_strs, block.tag))
            lo = bi + 1 - self.max_path
            if lo < 0:
                lo = 0
            self._reserve_items(bi + 1 - lo)
            for j in range(lo, bi + 1):
                self.jitems[j - lo] = PyList_GET_ITEM(self.tag_strs, self.stack[j].tag)
            self.paths.append(_join_ascii(b'/', self.jitems, bi + 1 - lo))
            self.block_ids.append(block.serial)
            toks = self.tokens(block)
            self.owns.append(_join_ascii(b' ', PySequence_Fast_ITEMS(<object>toks), PyTuple_GET_SIZE(<object>toks)))
        else:
            self.tags.append("")
            self.paths.append("")
            self.block_ids.append(-1)
            self.owns.append("")
        self.depths.append(bi + 1)
        self.anc1s.append(self.stack[bi - 1].serial if bi >= 1 else -1)
        self.anc2s.append(self.stack[bi - 2].serial if bi >= 2 else -1)
        self.anc3s.append(self.stack[bi - 3].serial if bi >= 3 else -1)
        # the tokens of the nearest max_anc ancestors that have any, space-joined
        kept = 0
        m = 0
        j = bi - 1
        while j >= 0:
            toks = self.tokens(&self.stack[j])
            k = PyTuple_GET_SIZE(<object>toks)
            if k:
                self._reserve_items(m + k)
                for i in range(k):
                    self.jitems[m + i] = PyTuple_GET_ITEM(<object>toks, i)
                m += k
                kept += 1
                if kept >= self.max_anc:
                    break
            j -= 1
        self.ancs.append(_join_ascii(b' ', self.jitems, m))
        self.links.append(n_links)
        n = len(text)
        self.link_chars.append(n_chars if n_chars < n else n)
        for j in range(self.n_flags):
            (<list>self.flag_cols[j]).append(self.counts[j] > 0)
        return 0

    # --- elements ----------------------------------------------------------------------

    cdef bint hidden_style(self, tree.xmlNode* node, tree.xmlAttr* a) except -1:
        """``style and hidden_search(style)`` for the element's ``style`` attribute."""
        cdef const unsigned char* value
        cdef int found
        if self.c_style:
            value = _attr_text(a)
            if value is not NULL:
                found = _hidden_ascii(value)
                if found >= 0:
                    return found
        style = _attr_value(node, a)
        return bool(style and self.hidden_search(style))

    cdef int start(self, tree.xmlNode* node) except -1:
        """A start event; returns 1 when the element is skipped with its subtree."""
        cdef tree.xmlAttr* found[N_ATTRS]
        cdef int tag = self.tag_of(node.name)
        cdef int kind = self.tag_kind[tag]
        cdef int flag_a, flag_b = -1
        cdef Frame* fr
        cdef Frame* st
        if kind & K_SKIP:
            return 1
        _find_attrs(node, found)
        # el.get(name) is not None: the attribute is there (its value may be empty)
        if found[A_HIDDEN] is not NULL:
            return 1
        if found[A_STYLE] is not NULL and self.hidden_style(node, found[A_STYLE]):
            return 1
        flag_a = self.tag_flag[tag]
        if found[A_ROLE] is not NULL:
            role = _attr_value(node, found[A_ROLE])
            if role:
                rf = self.role_flags.get(role.strip().lower())
                if rf:
                    flag_b = self.flag_index[rf]
        if kind & K_BLOCK:
            self.flush()
        elif kind & K_BR:
            if self.pending_br:
                self.flush()
            else:
                self.pending_br = True
                self._reserve(1)
                self.buf[self.blen] = b' '
                self.blen += 1
        if flag_a >= 0:
            self.counts[flag_a] += 1
        if flag_b >= 0:
            self.counts[flag_b] += 1
        self.serial += 1
        if self.depth == self.stack_cap:
            st = <Frame*>PyMem_Realloc(self.stack, 2 * self.stack_cap * sizeof(Frame))
            if st is NULL:
                raise MemoryError()
            self.stack = st
            self.stack_cap *= 2
        fr = &self.stack[self.depth]
        fr.node = node
        fr.next_child = node.children
        fr.tag = tag
        fr.flag_a = flag_a
        fr.flag_b = flag_b
        fr.block = (kind & K_BLOCK) != 0
        fr.serial = self.serial
        fr.first = len(self.texts)
        fr.tokens = NULL
        self.depth += 1
        if kind & K_A and found[A_HREF] is not NULL:
            self.n_links += 1
        self.add_text(node.children, True)
        return 0

    cdef int end(self) except -1:
        cdef Frame* fr = &self.stack[self.depth - 1]
        cdef tree.xmlNode* node = fr.node
        cdef Py_ssize_t n
        if fr.block:
            self.flush()  # the paragraph still belongs to this element
        if fr.flag_a >= 0:
            self.counts[fr.flag_a] -= 1
        if fr.flag_b >= 0:
            self.counts[fr.flag_b] -= 1
        n = len(self.texts)
        if n > fr.first:
            self.ranges.append((fr.first, n))
        Py_XDECREF(fr.tokens)
        fr.tokens = NULL
        self.depth -= 1
        self.add_text(node.next, True)
        return 0

    cdef int run(self, tree.xmlNode* root) except -1:
        cdef tree.xmlNode* c
        cdef Frame* fr
        if self.start(root):
            self.add_text(root.next, True)
        while self.depth > 0:
            fr = &self.stack[self.depth - 1]
            c = fr.next_child
            while c is not NULL and not _is_element_like(c):
                c = c.next
            if c is NULL:
                self.end()
                continue
            fr.next_child = c.next  # before start(): the stack may move
            if c.type == tree.XML_ELEMENT_NODE:
                if self.start(c):
                    self.add_text(c.next, True)  # a skipped element's tail still counts
            elif c.type == tree.XML_COMMENT_NODE or c.type == tree.XML_PI_NODE:
                self.add_text(c.next, False)
            else:
                raise TypeError("entity reference nodes are not supported")
        self.flush()
        return 0


def walk(root, dict cols, list flag_names, skip_tags, block_tags, flag_tags, role_flags,
         hidden_search, tokens_fn, dict token_cache, int max_ancestor_attrs, int max_path_tags,
         Py_ssize_t token_cache_max=-1):
    """Fill ``cols`` with the paragraphs under ``root``; return each element's paragraph range.

    The same as ``chromesift.data.walk_kernels.walk``; the vocabularies come as arguments:
    ``hidden_search`` is the search method of the hidden-style pattern, ``tokens_fn``
    turns a class/id/role value into a tuple of tokens, and ``token_cache`` is the dict
    in which it keeps them (a value found there is not passed to it). Where
    ``tokens_fn`` is :func:`ascii_tokens` for ASCII values, caching each value and
    clearing the cache only when it holds more than ``token_cache_max``, pass that
    number: the walk then tokenises and caches ASCII values itself while the cache is
    no bigger (-1: every value not cached goes to ``tokens_fn``).
    """
    cdef cetree._Element el
    if not isinstance(root, cetree._Element):
        raise TypeError(f"root must be an lxml element, not {type(root).__name__}")
    el = <cetree._Element>root
    if el._c_node is NULL or el._c_node.type != tree.XML_ELEMENT_NODE:
        raise TypeError("root must be an element")
    cdef _Walk w = _Walk()
    w.setup(cols, flag_names, skip_tags, block_tags, flag_tags, role_flags, hidden_search,
            tokens_fn, token_cache, max_ancestor_attrs, max_path_tags, token_cache_max)
    w.run(el._c_node)
    return w.ranges


cdef inline bint _lower_ascii(Py_UCS4 c) noexcept:
    return c >= 97 and c <= 122


def ascii_tokens(str value):
    """``html.attr_tokens(value)`` as a tuple where ``value`` is ASCII; None where it is not.

    A token is a run of ASCII letters and digits, lowercased, also broken between a
    lowercase letter and an uppercase one (camelCase); beyond ASCII, ``str.lower`` can
    make letters of other characters, so those values are left to the regexes.
    """
    if not value.isascii():
        return None
    return _ascii_tokens(value)


cdef tuple _ascii_tokens(str value):
    """:func:`ascii_tokens` of an ASCII value."""
    cdef Py_ssize_t n = len(value), i, start = -1
    cdef int kind = PyUnicode_KIND(value)
    cdef void* data = PyUnicode_DATA(value)
    cdef Py_UCS4 c, prev = 0
    cdef bint upper, word
    lowered = value.lower()
    out = []
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        upper = c >= 65 and c <= 90
        word = upper or _lower_ascii(c) or (c >= 48 and c <= 57)
        if word:
            if start < 0:
                start = i
            elif upper and _lower_ascii(prev):  # camelCase: a new token
                out.append(PyUnicode_Substring(lowered, start, i))
                start = i
        elif start >= 0:
            out.append(PyUnicode_Substring(lowered, start, i))
            start = -1
        prev = c
    if start >= 0:
        out.append(PyUnicode_Substring(lowered, start, n))
    return tuple(out)


def first_descendant(root, str name):
    """``root.find(".//" + name)`` for a plain tag name, without ElementPath.

    The first element below ``root`` in document order named ``name`` in no namespace
    (as ``iterdescendants(name)`` matches), or None; ElementPath reaches it through a
    Python generator chain, which on a page without one walks the whole tree.
    """
    cdef cetree._Element el
    cdef tree.xmlNode* top
    cdef tree.xmlNode* c
    if not isinstance(root, cetree._Element):
        raise TypeError(f"root must be an lxml element, not {type(root).__name__}")
    el = <cetree._Element>root
    top = el._c_node
    cname = name.encode("utf-8")
    cdef const char* c_name = cname
    c = top.children if top is not NULL else NULL
    while c is not NULL:
        if c.type == tree.XML_ELEMENT_NODE:
            if c.ns is NULL and strcmp(<const char*>c.name, c_name) == 0:
                return cetree.elementFactory(el._doc, c)
            if c.children is not NULL:
                c = c.children
                continue
        while c.next is NULL:
            c = c.parent
            if c is NULL or c is top:
                return None
        c = c.next
    return None


def main_range(list ranges, list chars, list link_chars, double min_chars, double max_link_share,
               double other_weight):
    """The paragraph range of ``html.main_container``'s main container, or None.

    The same sums in the same order (numpy's cumulative sums add one by one; the counts
    are whole numbers, so every value on the way is exact): an element scores its
    article-like text minus ``other_weight`` times its other text, and the first range
    (inner elements close first) with the highest score wins when it scores above zero.
    """
    cdef Py_ssize_t n = len(chars), n_ranges = len(ranges), i, first, end, best_first = 0, best_end = 0
    cdef double c, g, score, best = 0.0
    cdef double* cum_good
    cdef double* cum_all
    if n == 0 or n_ranges == 0:
        return None
    if len(link_chars) != n:
        raise ValueError("chars and link_chars differ in length")
    cum_good = <double*>PyMem_Malloc(2 * (n + 1) * sizeof(double))
    if cum_good is NULL:
        raise MemoryError()
    cum_all = cum_good + n + 1
    try:
        cum_good[0] = cum_all[0] = 0.0
        for i in range(n):
            c = <double>chars[i]
            cum_all[i + 1] = cum_all[i] + c
            if c >= min_chars and <double>link_chars[i] <= max_link_share * c:
                cum_good[i + 1] = cum_good[i] + c
            else:
                cum_good[i + 1] = cum_good[i] + 0.0
        for i in range(n_ranges):
            first, end = ranges[i]
            if not (0 <= first <= n and 0 <= end <= n):
                raise IndexError(f"range {(first, end)} outside {n} paragraphs")
            g = cum_good[end] - cum_good[first]
            score = g - other_weight * (cum_all[end] - cum_all[first] - g)
            if i == 0 or score > best:  # the first maximum, as numpy.argmax
                best, best_first, best_end = score, first, end
    finally:
        PyMem_Free(cum_good)
    if best > 0:
        return best_first, best_end
    return None


cdef inline bint _sep(unsigned char c) noexcept nogil:
    # whitespace as a bytes regex's \s sees it, and "/"
    return c == 32 or (9 <= c <= 13) or c == 47


cdef inline bint _space(unsigned char c) noexcept nogil:
    return c == 32 or (9 <= c <= 13)


def scan_tags(const unsigned char[::1] data, Py_ssize_t max_attributes):
    """:func:`chromesift.data.walk_kernels.scan_tags` in one pass over the bytes."""
    cdef Py_ssize_t n = data.shape[0], i = 0, j, start, cut, count, before, tags = 0
    cdef unsigned char c, q
    cdef const unsigned char* s = &data[0] if n else NULL
    cdef const unsigned char* hit
    out = []
    while i < n:
        hit = <const unsigned char*>memchr(s + i, 60, n - i)  # the next "<", at memchr's speed
        if hit == NULL:
            break
        i = hit - s
        if i + 1 >= n or not ((65 <= s[i + 1] <= 90) or (97 <= s[i + 1] <= 122)):
            i += 1
            continue
        start = i
        tags += 1
        j = i + 1
        while j < n and not _space(s[j]) and s[j] != 47 and s[j] != 62 and s[j] != 60:
            j += 1
        count = 0
        cut = -1
        while True:
            before = j
            while j < n and _sep(s[j]):
                j += 1
            if j >= n or s[j] == 62 or s[j] == 60:
                j = before
                break
            count += 1
            if count == max_attributes + 1:
                cut = before
            if s[j] == 61:  # "=" alone is a name
                j += 1
            else:
                while j < n and not _sep(s[j]) and s[j] != 62 and s[j] != 60 and s[j] != 61:
                    j += 1
            # an optional value: spaces, "=", spaces, then quoted or bare
            before = j
            while j < n and _space(s[j]):
                j += 1
            if j < n and s[j] == 61:
                j += 1
                while j < n and _space(s[j]):
                    j += 1
                if j < n and (s[j] == 34 or s[j] == 39):
                    q = s[j]
                    j += 1
                    while j < n and s[j] != q:
                        j += 1
                    if j < n:
                        j += 1
                else:
                    while j < n and not _space(s[j]) and s[j] != 62 and s[j] != 60:
                        j += 1
            else:
                j = before
        # the tag's match ends at j; its trailing separators go with the cut
        i = j
        while j < n and _sep(s[j]):
            j += 1
        if count > max_attributes:
            out.append((start, cut, j))
    return tags, out
