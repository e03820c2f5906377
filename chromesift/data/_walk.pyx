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

from libc.string cimport memchr, strcmp, strlen

cimport lxml.includes.etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport const_xmlChar

cetree.import_lxml__etree()

include "_walk_core.pxi"


# --- libxml2's nodes, as the walk of _walk_core.pxi reads them --------------------------

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

cdef inline int _n_kind(void* node) noexcept nogil:
    cdef tree.xmlNode* c = <tree.xmlNode*>node
    if c.type == tree.XML_ELEMENT_NODE:
        return N_ELEMENT
    if c.type == tree.XML_COMMENT_NODE or c.type == tree.XML_PI_NODE:
        return N_INVISIBLE
    if c.type == tree.XML_ENTITY_REF_NODE:
        return N_ENTITY
    return N_OTHER


cdef inline void* _n_next(void* node) noexcept nogil:
    return (<tree.xmlNode*>node).next


cdef inline void* _n_first_child(void* node) noexcept nogil:
    return (<tree.xmlNode*>node).children


cdef inline void* _n_text_or_skip(void* node) noexcept nogil:
    return _text_node_or_skip(<tree.xmlNode*>node)


cdef inline const unsigned char* _n_text(void* node, Py_ssize_t* n) noexcept nogil:
    cdef const unsigned char* s = <const unsigned char*>(<tree.xmlNode*>node).content
    n[0] = strlen(<const char*>s) if s is not NULL else 0
    return s


cdef inline uintptr_t _n_tag_key(void* node) noexcept nogil:
    # libxml2 interns names in the document's dictionary: one pointer per name
    return <uintptr_t>(<tree.xmlNode*>node).name


cdef str _n_tag_name(void* node):
    cdef const char* name = <const char*>(<tree.xmlNode*>node).name
    return PyUnicode_DecodeUTF8(name, strlen(name), NULL)


cdef inline void _n_find_attrs(void* node, void** found) noexcept nogil:
    _find_attrs(<tree.xmlNode*>node, <tree.xmlAttr**>found)


cdef object _n_attr_value(void* node, void* a):
    return _attr_value(<tree.xmlNode*>node, <tree.xmlAttr*>a)


cdef inline const unsigned char* _n_attr_text(void* a) noexcept nogil:
    return _attr_text(<tree.xmlAttr*>a)



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
    w.run(<void*>el._c_node)
    return w.ranges


def ascii_tokens(str value):
    """``html.attr_tokens(value)`` as a tuple where ``value`` is ASCII; None where it is not.

    A token is a run of ASCII letters and digits, lowercased, also broken between a
    lowercase letter and an uppercase one (camelCase); beyond ASCII, ``str.lower`` can
    make letters of other characters, so those values are left to the regexes.
    """
    if not value.isascii():
        return None
    return _ascii_tokens(value)


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


cdef extern from "Python.h":
    ctypedef struct _ListObject "PyListObject":
        PyObject** ob_item
    void Py_SET_SIZE(object, Py_ssize_t)


def merge_link_runs(dict cols, list ranges, list lines=None):
    """Join each run of link-only paragraphs into one, in place: what its Python reference in
    :mod:`chromesift.data.walk_kernels` does (returns ``ranges`` in the new positions; fills
    ``lines`` where one is given)."""
    cdef list texts = cols["text"], n_links = cols["n_links"], link_chars = cols["link_chars"]
    cdef list anc1 = cols["anc1"], paths = cols["path"]
    cdef Py_ssize_t n = len(texts), i, w, first, end, a, a_before = -1, start = -1
    cdef bint link, before = False
    cdef Py_ssize_t* new
    cdef list col, parts, out
    cdef tuple r
    cdef PyObject** items
    cdef object path_before = None, path
    if len(n_links) != n or len(link_chars) != n or len(anc1) != n or len(paths) != n:
        raise ValueError("the paragraph columns differ in length")
    new = <Py_ssize_t*>PyMem_Malloc((n + 1) * sizeof(Py_ssize_t))
    if new is NULL:
        raise MemoryError()
    try:
        # new[i]: the position paragraph i goes to; a paragraph that joins the one before
        # goes where that one goes
        w = -1
        for i in range(n):
            link = <Py_ssize_t>n_links[i] > 0 and <Py_ssize_t>link_chars[i] >= len(<str>texts[i])
            a = anc1[i]
            path = paths[i]
            if link and before and a >= 0 and a == a_before and path == path_before:
                if start < 0:
                    start = i  # the first paragraph that moves
            else:
                w += 1
            new[i] = w
            before, a_before, path_before = link, a, path
        if lines is not None:
            lines[:] = [None] * (w + 1)
        if start < 0:
            return ranges
        for name, value in cols.items():
            col = <list>value
            if len(col) != n or name == "text" or name == "n_links" or name == "link_chars":
                continue
            # the pointers moved down in place: a paragraph's object goes to its new slot (which
            # held one already moved or released), a joined one's is released
            items = (<_ListObject*>col).ob_item
            for i in range(start, n):
                if new[i] != new[i - 1]:
                    items[new[i]] = items[i]
                else:
                    Py_XDECREF(items[i])
            Py_SET_SIZE(col, w + 1)
        i = start - 1  # the run the first join joins begins at or before it
        while i > 0 and new[i - 1] == new[start]:
            i -= 1
        while i < n:
            end = i + 1
            while end < n and new[end] == new[i]:
                end += 1
            if end - i == 1:
                texts[new[i]] = texts[i]
                n_links[new[i]] = n_links[i]
                link_chars[new[i]] = link_chars[i]
            else:
                parts = texts[i:end]
                if lines is not None:
                    lines[new[i]] = "\n".join(parts)
                texts[new[i]] = " ".join(parts)
                n_links[new[i]] = sum(n_links[i:end])
                link_chars[new[i]] = len(<str>texts[new[i]])
            i = end
        del texts[w + 1:]
        del n_links[w + 1:]
        del link_chars[w + 1:]
        # the ranges in the new positions (a new list; those that end before the first join
        # keep their tuples)
        out = list(ranges)
        for k in range(len(out)):
            r = out[k]
            first = <Py_ssize_t>r[0]
            end = <Py_ssize_t>r[1]
            if not (0 <= first < end <= n):
                raise IndexError(f"range {(first, end)} outside {n} paragraphs")
            if end > start:
                out[k] = (new[first], new[end - 1] + 1)
        return out
    finally:
        PyMem_Free(new)


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


# --- UTF-8 of a page that holds a non-Latin-1 character ----------------------------------

# (PyUnicode_KIND, PyUnicode_DATA, PyObject, Py_INCREF and memcpy: see _walk_core.pxi)
cdef extern from "Python.h":
    object PyBytes_FromStringAndSize(const char*, Py_ssize_t)
    char* PyBytes_AS_STRING(object)
    int _PyBytes_Resize(PyObject**, Py_ssize_t) except -1

from cpython.ref cimport Py_DECREF
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

#: the bits of a 64-bit word of UTF-16 units (4) or code points (2) that are 0 where all are
#: ASCII
cdef uint64_t _NOT_ASCII2 = 0xFF80FF80FF80FF80ULL
cdef uint64_t _NOT_ASCII4 = 0xFFFFFF80FFFFFF80ULL


cdef inline uint8_t* _put(uint8_t* p, uint32_t c) noexcept nogil:
    """One code point (no surrogate) as UTF-8 at p; the byte after it."""
    if c < 0x80:
        p[0] = <uint8_t>c
        return p + 1
    if c < 0x800:
        p[0] = <uint8_t>(0xC0 | (c >> 6))
        p[1] = <uint8_t>(0x80 | (c & 0x3F))
        return p + 2
    if c < 0x10000:
        p[0] = <uint8_t>(0xE0 | (c >> 12))
        p[1] = <uint8_t>(0x80 | ((c >> 6) & 0x3F))
        p[2] = <uint8_t>(0x80 | (c & 0x3F))
        return p + 3
    p[0] = <uint8_t>(0xF0 | (c >> 18))
    p[1] = <uint8_t>(0x80 | ((c >> 12) & 0x3F))
    p[2] = <uint8_t>(0x80 | ((c >> 6) & 0x3F))
    p[3] = <uint8_t>(0x80 | (c & 0x3F))
    return p + 4


ctypedef fused _unit:
    uint16_t
    uint32_t


cdef Py_ssize_t _encode(const _unit* d, Py_ssize_t n, uint8_t* out) noexcept nogil:
    """The characters of a 2-byte (UTF-16 units, no surrogate pair: such a str has none) or
    4-byte str as UTF-8; its length, or -1 at a surrogate. ASCII runs are copied 16 units
    (2-byte) or 4 (4-byte) at a time: 32 or 16 bytes tested as 64-bit words."""
    cdef Py_ssize_t i = 0, step = 16 if _unit is uint16_t else 4
    cdef Py_ssize_t words = step * sizeof(_unit) // 8
    cdef uint64_t mask = _NOT_ASCII2 if _unit is uint16_t else _NOT_ASCII4
    cdef uint64_t w, x
    cdef uint8_t* p = out
    cdef uint32_t c
    cdef Py_ssize_t j
    while i < n:
        if i + step <= n:
            w = 0
            for j in range(words):
                memcpy(&x, <const char*>(d + i) + 8 * j, 8)
                w |= x
            if (w & mask) == 0:
                for j in range(step):
                    p[j] = <uint8_t>d[i + j]
                p += step
                i += step
                continue
        c = d[i]
        i += 1
        if 0xD800 <= c < 0xE000:
            return -1
        p = _put(p, c)
    return p - out


def utf8(str text):
    """:func:`chromesift.data.walk_kernels.utf8`: ``text.encode("utf-8")``, and the same error
    at a surrogate. A str of 2- or 4-byte characters (a curly quote or an emoji in an English
    page is enough) is encoded here, its ASCII runs several characters at a time; CPython's
    encoder takes those one at a time."""
    cdef int kind = PyUnicode_KIND(text)
    if kind == 1:  # ASCII (copied) or Latin-1: CPython's own is as fast
        return text.encode("utf-8")
    cdef Py_ssize_t n = len(text), size
    out = PyBytes_FromStringAndSize(NULL, (3 if kind == 2 else 4) * n)
    cdef uint8_t* buf = <uint8_t*>PyBytes_AS_STRING(out)
    cdef const void* data = PyUnicode_DATA(text)
    with nogil:
        if kind == 2:
            size = _encode(<const uint16_t*>data, n, buf)
        else:
            size = _encode(<const uint32_t*>data, n, buf)
    if size < 0:
        return text.encode("utf-8")  # raises UnicodeEncodeError, as the reference does
    cdef PyObject* obj = <PyObject*>out
    Py_INCREF(out)  # _PyBytes_Resize may replace the object: hand it a reference of its own
    out = None
    _PyBytes_Resize(&obj, size)
    result = <object>obj
    Py_DECREF(result)
    return result


# --- the end of a page's head --------------------------------------------------------------

def find_head_end(const unsigned char[::1] data, Py_ssize_t limit):
    """:func:`chromesift.data.walk_kernels.find_head_end`, from one ``<`` to the next at
    memchr's speed (a page's head holds few of them: its scripts and styles hold most of its
    bytes)."""
    cdef Py_ssize_t n = min(data.shape[0], max(limit, 0)), i = 0, upper = -1
    cdef const unsigned char* s = &data[0] if data.shape[0] else NULL
    cdef const unsigned char* hit
    while i + 6 <= n:
        hit = <const unsigned char*>memchr(s + i, 60, n - 5 - i)  # a "<" with 5 bytes after it
        if hit == NULL:
            break
        i = hit - s
        if s[i + 1] == 47:
            if s[i + 2] == 104 and s[i + 3] == 101 and s[i + 4] == 97 and s[i + 5] == 100:  # "head"
                return i
            if upper < 0 and s[i + 2] == 72 and s[i + 3] == 69 and s[i + 4] == 65 and s[i + 5] == 68:  # "HEAD"
                upper = i
        i += 1
    return upper
