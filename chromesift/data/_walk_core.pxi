# The paragraph walk over a parsed tree, in C: shared by the walk over libxml2's tree
# (chromesift/data/_walk.pyx) and the one over lexbor's (chromesift/data/_lexbor.pyx).
#
# Included (Cython's `include`) by each, which defines the node accessors it reads through,
# each taking and giving its parser's nodes as void*:
#   _n_kind(node) -> N_ELEMENT, N_INVISIBLE (comment, PI), N_ENTITY or N_OTHER
#   _n_next(node), _n_first_child(node) -> void* (NULL: none)
#   _n_text_or_skip(node) -> the node if it holds text (text, CDATA), after what the
#       parser's text runs skip; else NULL
#   _n_text(node, &n) -> a text node's UTF-8 bytes and their number (NULL: none)
#   _n_tag_key(node) -> a nonzero key per tag name within a document; _n_tag_name(node) -> str
#   _n_find_attrs(node, found) -> found[A_...] the first attribute of each name read (NULL: absent)
#   _n_attr_value(node, attr) -> str (None for NULL); _n_attr_text(attr) -> NUL-terminated
#       UTF-8 of a value that has one plain form, else NULL
#
# The C and Python declarations the walk needs come with it, below.

from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_ITEM
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport Py_UNICODE_ISSPACE, PyUnicode_DecodeUTF8
from libc.stdint cimport uintptr_t
from libc.string cimport memcpy, memset

import re

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


# kinds of tag name, a bit set
cdef enum:
    K_SKIP = 1
    K_BLOCK = 2
    K_BR = 4
    K_A = 8
    K_RT = 16
    K_RP = 32

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

# what a node is to the walk (_n_kind)
cdef enum:
    N_OTHER = 0
    N_ELEMENT = 1
    N_INVISIBLE = 2  # a comment or a processing instruction: no text, but the text after it counts
    N_ENTITY = 3


ctypedef struct Frame:
    void* node
    void* next_child          # the next child node to visit
    int tag                   # index into the walk's tag table
    int flag_a                # flag indices this element sets, -1 for none
    int flag_b
    bint block
    Py_ssize_t serial
    Py_ssize_t first          # paragraphs before it
    PyObject* tokens          # class/id/role tokens (a tuple), owned; NULL until needed
    PyObject* anc             # anc_attrs of a paragraph whose block is a child of this element
                              # (a str), owned; NULL until needed


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


cdef inline size_t _key_hash(uintptr_t key) noexcept nogil:
    # pointers (aligned: low bits carry nothing) and small numbers alike
    return <size_t>((key >> 4) ^ key) * <size_t>2654435761u


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
    cdef uintptr_t* hkeys
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
                Py_XDECREF(self.stack[i].anc)
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
        self.hkeys = <uintptr_t*>PyMem_Malloc(self.hcap * sizeof(uintptr_t))
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
        memset(self.hkeys, 0, self.hcap * sizeof(uintptr_t))
        self.blen = 0
        self.n_chars = self.n_links = 0
        self.pending_br = False
        self.serial = -1
        return 0

    # --- tag names ---------------------------------------------------------------------

    cdef int _new_tag(self, void* node) except -1:
        name_str = _n_tag_name(node)
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
        if tag == "rt":
            kind |= K_RT
        if tag == "rp":
            kind |= K_RP
        self.tag_kind[idx] = kind
        self.tag_flag[idx] = self.flag_index[self.flag_tags[tag]] if tag in self.flag_tags else -1
        self.tag_strs.append(tag)
        return <int>idx

    cdef int _grow_table(self) except -1:
        cdef uintptr_t* old_keys = self.hkeys
        cdef int* old_vals = self.hvals
        cdef Py_ssize_t old_cap = self.hcap, i, h
        cdef Py_ssize_t cap = old_cap * 2
        self.hkeys = <uintptr_t*>PyMem_Malloc(cap * sizeof(uintptr_t))
        self.hvals = <int*>PyMem_Malloc(cap * sizeof(int))
        if self.hkeys is NULL or self.hvals is NULL:
            PyMem_Free(old_keys)
            PyMem_Free(old_vals)
            raise MemoryError()
        memset(self.hkeys, 0, cap * sizeof(uintptr_t))
        self.hcap = cap
        for i in range(old_cap):
            if old_keys[i] != 0:
                h = _key_hash(old_keys[i]) & (cap - 1)
                while self.hkeys[h] != 0:
                    h = (h + 1) & (cap - 1)
                self.hkeys[h] = old_keys[i]
                self.hvals[h] = old_vals[i]
        PyMem_Free(old_keys)
        PyMem_Free(old_vals)
        return 0

    cdef inline int tag_of(self, void* node) except -1:
        """Index of an element's tag name in the tag table, found by the name's key
        (:func:`_n_tag_key`: one per name within a document)."""
        cdef uintptr_t name = _n_tag_key(node)
        cdef Py_ssize_t mask = self.hcap - 1
        cdef Py_ssize_t h = _key_hash(name) & mask
        cdef int idx
        while self.hkeys[h] != 0:
            if self.hkeys[h] == name:
                return self.hvals[h]
            h = (h + 1) & mask
        idx = self._new_tag(node)
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

    cdef int add_text(self, void* first, bint element_text) except -1:
        """Append ``.text``/``.tail`` (the text nodes from ``first`` on) to the paragraph.

        ``element_text``: a start or end event's text, which also ends a pending ``<br>``;
        the tail of a comment or PI does not.
        """
        cdef void* c = _n_text_or_skip(first)
        cdef const unsigned char* content
        cdef Py_ssize_t start = self.blen, n, i, step, lo, hi, k
        cdef Py_UCS4 cp
        cdef bint all_space
        while c is not NULL:
            content = _n_text(c, &n)
            if content is not NULL and n:
                self._reserve(n)
                memcpy(self.buf + self.blen, content, n)
                self.blen += n
            c = _n_text_or_skip(_n_next(c))
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
        cdef void* found[N_ATTRS]
        cdef object toks
        if fr.tokens is NULL:
            _n_find_attrs(fr.node, found)
            cls = _n_attr_value(fr.node, found[A_CLASS])
            id_ = _n_attr_value(fr.node, found[A_ID])
            role = _n_attr_value(fr.node, found[A_ROLE])
            toks = (self.value_tokens(cls) if cls else ()) + (self.value_tokens(id_) if id_ else ())
            if role:
                toks += self.value_tokens(role)
            if type(toks) is not tuple:  # flush reads a tuple's items directly
                raise TypeError(f"tokens must be a tuple, not {type(toks).__name__}")
            Py_INCREF(toks)
            fr.tokens = <PyObject*>toks
        return fr.tokens

    cdef PyObject* anc_of(self, Frame* parent, Py_ssize_t top) except NULL:
        """The anc_attrs of a paragraph whose block is a child of ``parent`` (the frame at
        ``top``): the tokens of the nearest ``max_anc`` elements from ``parent`` down that have
        any, space-joined (borrowed: the frame holds it until the element closes)."""
        cdef Py_ssize_t kept = 0, m = 0, j = top, k, i
        cdef PyObject* toks
        if parent.anc is NULL:
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
            anc = _join_ascii(b' ', self.jitems, m)
            Py_INCREF(anc)
            parent.anc = <PyObject*>anc
        return parent.anc

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
        cdef Py_ssize_t blen = self.blen, i = 0, o = 0, step, bi, j, lo, k
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
        # _WS.sub(" ", text.replace(SOFT_HYPHEN, "")).strip(), and whether anything is left
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
            if cp == 0xAD:  # a soft hyphen: a hint where a word may break, no character of it
                i += step
                continue
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
        # the tokens of the nearest max_anc ancestors that have any, space-joined: the same for
        # every paragraph whose block is a child of the same element, so made once per parent
        if bi >= 1:
            self.ancs.append(<object>self.anc_of(&self.stack[bi - 1], bi - 1))
        else:
            self.ancs.append("")
        self.links.append(n_links)
        n = len(text)
        self.link_chars.append(n_chars if n_chars < n else n)
        for j in range(self.n_flags):
            (<list>self.flag_cols[j]).append(self.counts[j] > 0)
        return 0

    # --- elements ----------------------------------------------------------------------

    cdef bint hidden_style(self, void* node, void* a) except -1:
        """``style and hidden_search(style)`` for the element's ``style`` attribute."""
        cdef const unsigned char* value
        cdef int found
        if self.c_style:
            value = _n_attr_text(a)
            if value is not NULL:
                found = _hidden_ascii(value)
                if found >= 0:
                    return found
        style = _n_attr_value(node, a)
        return bool(style and self.hidden_search(style))

    cdef bint ruby_brackets(self) except -1:
        """Whether the open element (a ruby reading's parent) has an ``rp`` child: the brackets
        a page gives its readings, for where they are shown inline (walk_kernels.ruby_brackets)."""
        cdef void* c
        cdef int tag
        if self.depth == 0:
            return False
        c = _n_first_child(self.stack[self.depth - 1].node)
        while c is not NULL:
            if _n_kind(c) == N_ELEMENT:
                tag = self.tag_of(c)  # (before reading tag_kind: a new tag may move it)
                if self.tag_kind[tag] & K_RP:
                    return True
            c = _n_next(c)
        return False

    cdef int start(self, void* node) except -1:
        """A start event; returns 1 when the element is skipped with its subtree."""
        cdef void* found[N_ATTRS]
        cdef int tag = self.tag_of(node)
        cdef int kind = self.tag_kind[tag]
        cdef int flag_a, flag_b = -1
        cdef Frame* fr
        cdef Frame* st
        if kind & K_SKIP:
            return 1
        if kind & K_RT and not self.ruby_brackets():
            return 1
        _n_find_attrs(node, found)
        # el.get(name) is not None: the attribute is there (its value may be empty)
        if found[A_HIDDEN] is not NULL:
            return 1
        if found[A_STYLE] is not NULL and self.hidden_style(node, found[A_STYLE]):
            return 1
        flag_a = self.tag_flag[tag]
        if found[A_ROLE] is not NULL:
            role = _n_attr_value(node, found[A_ROLE])
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
        fr.next_child = _n_first_child(node)
        fr.tag = tag
        fr.flag_a = flag_a
        fr.flag_b = flag_b
        fr.block = (kind & K_BLOCK) != 0
        fr.serial = self.serial
        fr.first = len(self.texts)
        fr.tokens = NULL
        fr.anc = NULL
        self.depth += 1
        if kind & K_A and found[A_HREF] is not NULL:
            self.n_links += 1
        self.add_text(_n_first_child(node), True)
        return 0

    cdef int end(self) except -1:
        cdef Frame* fr = &self.stack[self.depth - 1]
        cdef void* node = fr.node
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
        Py_XDECREF(fr.anc)
        fr.anc = NULL
        self.depth -= 1
        self.add_text(_n_next(node), True)
        return 0

    cdef int run(self, void* root) except -1:
        cdef void* c
        cdef int kind
        cdef Frame* fr
        if self.start(root):
            self.add_text(_n_next(root), True)
        while self.depth > 0:
            fr = &self.stack[self.depth - 1]
            c = fr.next_child
            kind = N_OTHER
            while c is not NULL:
                kind = _n_kind(c)
                if kind != N_OTHER:
                    break
                c = _n_next(c)
            if c is NULL:
                self.end()
                continue
            fr.next_child = _n_next(c)  # before start(): the stack may move
            if kind == N_ELEMENT:
                if self.start(c):
                    self.add_text(_n_next(c), True)  # a skipped element's tail still counts
            elif kind == N_INVISIBLE:
                self.add_text(_n_next(c), False)
            else:
                raise TypeError("entity reference nodes are not supported")
        self.flush()
        return 0


cdef inline bint _lower_ascii(Py_UCS4 c) noexcept:
    return c >= 97 and c <= 122


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
