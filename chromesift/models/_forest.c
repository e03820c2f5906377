/* chromesift.models._forest: the leaf values of a forest of binary decision trees, summed per row.
 *
 * scikit-learn's HistGradientBoostingClassifier predicts one tree per Python call, which
 * costs a fixed few microseconds per tree: on a page of about a hundred paragraphs that
 * overhead is most of the prediction time. Here all the trees of a booster lie end to end
 * in flat node arrays (chromesift/models/forest.py builds them) and one call walks them all.
 *
 * A Forest checks and packs the node arrays once, when it is built; its add() then walks
 * them with no more checks than the shape of X. add_trees() does both in one call.
 *
 * A plain CPython extension (buffer protocol, no numpy headers), so it builds with any C99
 * compiler; without one the package installs without it and scikit-learn predicts.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Nodes of all trees, packed for the walk: one entry per node in each array, children
 * absolute indices. sklearn lays each tree out in pre-order, so the left child of a split
 * is the next node and only the right one is stored. One array per field, not one struct
 * per node: a split reads feature, threshold and right, and on the shipped model (120
 * trees of 31 leaves) the arrays walked faster than 16- and 24-byte node structs. */
typedef struct {
    Py_ssize_t n_nodes, n_trees;
    Py_ssize_t n_columns;        /* the columns the splits read: 1 + the largest */
    double *threshold;           /* go left (to the next node) if x <= threshold */
    double *value;               /* the leaf's value */
    int32_t *feature;            /* column of X the split reads; -1 at a leaf */
    int32_t *right;              /* the right child (the left one is the next node) */
    int32_t *roots;              /* the first node of each tree */
    uint8_t *missing_left;       /* where NaN goes */
    void *block;                 /* the one allocation the arrays above lie in */
} Packed;

/* True if the buffer's format is the one-character struct code `code` (native order). */
static int
has_format(const Py_buffer *view, char code)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=') {
        f++;
    }
    return f[0] == code && f[1] == '\0';
}

/* Get a C-contiguous 1-d buffer of `code` items; on failure return -1 with an exception
 * set (ValueError for the wrong format or shape). */
static int
get_vector(PyObject *obj, Py_buffer *view, char code, Py_ssize_t itemsize, int writable,
           const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) {
        return -1;
    }
    if (view->ndim != 1 || view->itemsize != itemsize || !has_format(view, code)) {
        PyErr_Format(PyExc_ValueError, "%s must be a contiguous 1-d array of format '%c'",
                     name, code);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* The node arguments of Forest() and add_trees(), in their order. */
enum { FEATURE, THRESHOLD, LEFT, RIGHT, IS_LEAF, MISSING, VALUE, ROOTS, N_NODE_ARGS };
static const char node_codes[N_NODE_ARGS] = {'i', 'd', 'i', 'i', 'B', 'B', 'd', 'i'};
static const char *node_names[N_NODE_ARGS] = {"feature", "threshold", "left", "right",
                                              "is_leaf", "missing_go_to_left", "value",
                                              "roots"};

static void
packed_free(Packed *p)
{
    PyMem_Free(p->block);
    p->block = NULL;
}

/* Check the node arrays of `objs` and pack them into *p. Every walk must end inside the
 * arrays: roots and children in range, each left child the node after its parent and each
 * right child after it too (so no walk loops), split columns not negative. Returns 0, or
 * -1 with an exception set (ValueError for malformed nodes) and nothing allocated. */
static int
pack_nodes(PyObject *const *objs, Packed *p)
{
    Py_buffer views[N_NODE_ARGS];
    int n_views = 0; /* views to release: the first n_views of them */
    int status = -1;

    p->block = NULL;
    for (; n_views < N_NODE_ARGS; n_views++) {
        const char c = node_codes[n_views];
        const Py_ssize_t size = c == 'd' ? sizeof(double) : c == 'i' ? sizeof(int32_t) : 1;
        if (get_vector(objs[n_views], &views[n_views], c, size, 0, node_names[n_views]) < 0) {
            goto done;
        }
    }
    const Py_ssize_t n_nodes = views[FEATURE].shape[0], n_trees = views[ROOTS].shape[0];
    for (int a = FEATURE; a < ROOTS; a++) {
        if (views[a].shape[0] != n_nodes) {
            PyErr_Format(PyExc_ValueError, "%s has %zd nodes, feature has %zd", node_names[a],
                         views[a].shape[0], n_nodes);
            goto done;
        }
    }
    if (n_nodes > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many nodes for int32 indices");
        goto done;
    }
    const int32_t *feature = views[FEATURE].buf, *left = views[LEFT].buf;
    const int32_t *right = views[RIGHT].buf, *roots = views[ROOTS].buf;
    const uint8_t *is_leaf = views[IS_LEAF].buf, *missing = views[MISSING].buf;
    const int32_t n = (int32_t)n_nodes;
    for (Py_ssize_t t = 0; t < n_trees; t++) {
        if (roots[t] < 0 || roots[t] >= n) {
            PyErr_Format(PyExc_ValueError, "root %zd of tree %zd is out of range",
                         (Py_ssize_t)roots[t], t);
            goto done;
        }
    }
    int32_t max_column = -1;
    for (int32_t k = 0; k < n; k++) {
        if (is_leaf[k]) {
            continue;
        }
        if (left[k] <= k || left[k] >= n || right[k] <= k || right[k] >= n) {
            PyErr_Format(PyExc_ValueError, "children of node %d are out of range", (int)k);
            goto done;
        }
        if (left[k] != k + 1) {
            PyErr_Format(PyExc_ValueError,
                         "left child of node %d is node %d, not the next one (pre-order)",
                         (int)k, (int)left[k]);
            goto done;
        }
        if (feature[k] < 0) {
            PyErr_Format(PyExc_ValueError, "node %d splits on column %d", (int)k,
                         (int)feature[k]);
            goto done;
        }
        max_column = feature[k] > max_column ? feature[k] : max_column;
    }

    /* doubles first, so that every array is aligned */
    const size_t nn = (size_t)n_nodes, nt = (size_t)n_trees;
    p->block = PyMem_Malloc(nn * (2 * sizeof(double) + 2 * sizeof(int32_t) + 1)
                            + nt * sizeof(int32_t) + 1);
    if (p->block == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    p->threshold = p->block;
    p->value = p->threshold + nn;
    p->feature = (int32_t *)(p->value + nn);
    p->right = p->feature + nn;
    p->roots = p->right + nn;
    p->missing_left = (uint8_t *)(p->roots + nt);
    p->n_nodes = n_nodes;
    p->n_trees = n_trees;
    p->n_columns = (Py_ssize_t)max_column + 1;
    memcpy(p->threshold, views[THRESHOLD].buf, nn * sizeof(double));
    memcpy(p->value, views[VALUE].buf, nn * sizeof(double));
    memcpy(p->right, right, nn * sizeof(int32_t)); /* read at splits only */
    memcpy(p->roots, roots, nt * sizeof(int32_t));
    for (int32_t k = 0; k < n; k++) {
        p->feature[k] = is_leaf[k] ? -1 : feature[k];
        p->missing_left[k] = missing[k] != 0;
    }
    status = 0;

done:
    while (n_views > 0) {
        PyBuffer_Release(&views[--n_views]);
    }
    return status;
}

/* Rows per block of add_leaves: a block's rows of the columns the trees read stay in cache
 * while every tree goes through them (on 50k rows: 12% faster than no blocks on column-major
 * X, 3.5 times on row-major X). */
#define BLOCK_ROWS 1024

/* out[i] += value of the leaf that row i reaches, for each tree in turn.
 *
 * Block of rows by block, tree by tree, then row by row: one tree's nodes stay in cache
 * while the rows of a block go through it, and on column-major X consecutive rows read
 * neighbouring memory. Each row's sum still takes the trees in order, as scikit-learn
 * adds them, so the sums are the same to the last bit.
 *
 * The walk branches rather than selects: neighbouring paragraphs take much the same paths,
 * so the branches are well predicted and the next node is fetched before the comparison is
 * done (rows walked side by side without branches were 1.1 to 2 times slower). The common
 * case comes first: x <= threshold, false for NaN, goes to the next node; only otherwise
 * is NaN tested. Same destinations as sklearn's test of NaN first. */
static void
add_leaves(const Packed *p, const char *x, Py_ssize_t n_rows, Py_ssize_t row_stride,
           Py_ssize_t col_stride, double *out)
{
    const double *threshold = p->threshold, *value = p->value;
    const int32_t *feature = p->feature, *right = p->right;
    const uint8_t *missing_left = p->missing_left;
    for (Py_ssize_t start = 0; start < n_rows; start += BLOCK_ROWS) {
        const Py_ssize_t stop = n_rows - start > BLOCK_ROWS ? start + BLOCK_ROWS : n_rows;
        for (Py_ssize_t t = 0; t < p->n_trees; t++) {
            const int32_t root = p->roots[t];
            for (Py_ssize_t i = start; i < stop; i++) {
                const char *row = x + i * row_stride;
                int32_t k = root, f;
                while ((f = feature[k]) >= 0) {
                    const double v = *(const double *)(row + f * col_stride);
                    if (v <= threshold[k]) {
                        k++;
                    }
                    else if (isnan(v) && missing_left[k]) {
                        k++;
                    }
                    else {
                        k = right[k];
                    }
                }
                out[i] += value[k];
            }
        }
    }
}

/* Check X and out against the packed forest and add its trees to out. Returns 0, or -1
 * with an exception set (ValueError for arrays of the wrong type or shape). */
static int
add_packed(const Packed *p, PyObject *x_obj, PyObject *out_obj)
{
    Py_buffer xv, ov;
    /* X in any memory order: its strides come with the buffer */
    if (PyObject_GetBuffer(x_obj, &xv, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        return -1;
    }
    if (xv.ndim != 2 || xv.itemsize != sizeof(double) || !has_format(&xv, 'd')
        || xv.strides[0] % (Py_ssize_t)sizeof(double)
        || xv.strides[1] % (Py_ssize_t)sizeof(double)
        || (uintptr_t)xv.buf % sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "X must be an aligned 2-d array of float64");
        PyBuffer_Release(&xv);
        return -1;
    }
    if (get_vector(out_obj, &ov, 'd', sizeof(double), 1, "out") < 0) {
        PyBuffer_Release(&xv);
        return -1;
    }
    const Py_ssize_t n_rows = xv.shape[0], n_cols = xv.shape[1];
    int status = -1;
    if (ov.shape[0] != n_rows) {
        PyErr_Format(PyExc_ValueError, "out has %zd rows, X has %zd", ov.shape[0], n_rows);
    }
    else if (n_cols < p->n_columns) {
        PyErr_Format(PyExc_ValueError, "a tree splits on column %zd, but X has %zd columns",
                     p->n_columns - 1, n_cols);
    }
    else {
        Py_BEGIN_ALLOW_THREADS
        add_leaves(p, xv.buf, n_rows, xv.strides[0], xv.strides[1], ov.buf);
        Py_END_ALLOW_THREADS
        status = 0;
    }
    PyBuffer_Release(&ov);
    PyBuffer_Release(&xv);
    return status;
}

/* --- Forest: the checked, packed nodes, immutable ----------------------------------------- */

typedef struct {
    PyObject_HEAD
    Packed packed;
} ForestObject;

PyDoc_STRVAR(forest_doc,
"Forest(feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots)\n"
"--\n\n"
"The nodes of a forest of binary trees, checked and packed once for add().\n\n"
"The node arrays (feature, left, right, roots: int32; threshold, value: float64;\n"
"is_leaf, missing_go_to_left: uint8) are contiguous and of one length, the nodes of all\n"
"trees end to end; left and right are absolute indices, roots the first node of each tree.\n"
"Each tree is in pre-order, as sklearn lays it out: the left child of a split is the next\n"
"node. A row goes left where x <= threshold, and where x is NaN if missing_go_to_left.\n"
"The arrays are copied: changing them later does not change the forest.\n"
"Raises ValueError on arrays of the wrong type or size, children out of range or out of\n"
"pre-order, and negative split columns.");

static PyObject *
forest_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *objs[N_NODE_ARGS];
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Forest() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOOOOOOO:Forest", &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6], &objs[7])) {
        return NULL;
    }
    ForestObject *self = (ForestObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    if (pack_nodes(objs, &self->packed) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
forest_dealloc(ForestObject *self)
{
    packed_free(&self->packed);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyDoc_STRVAR(forest_add_doc,
"add(X, out)\n"
"--\n\n"
"Add to out[i] the sum over the trees of the value of the leaf that row i of X reaches.\n\n"
"X is a 2-d float64 array in any memory order with at least n_columns columns; out a\n"
"writable contiguous float64 array of len(X). Raises ValueError otherwise.");

static PyObject *
forest_add(ForestObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "add() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    if (add_packed(&self->packed, args[0], args[1]) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
forest_get_n_nodes(ForestObject *self, void *closure)
{
    return PyLong_FromSsize_t(self->packed.n_nodes);
}

static PyObject *
forest_get_n_trees(ForestObject *self, void *closure)
{
    return PyLong_FromSsize_t(self->packed.n_trees);
}

static PyObject *
forest_get_n_columns(ForestObject *self, void *closure)
{
    return PyLong_FromSsize_t(self->packed.n_columns);
}

static PyMethodDef forest_type_methods[] = {
    {"add", (PyCFunction)(void (*)(void))forest_add, METH_FASTCALL, forest_add_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef forest_getset[] = {
    {"n_nodes", (getter)forest_get_n_nodes, NULL, "Nodes of all trees.", NULL},
    {"n_trees", (getter)forest_get_n_trees, NULL, "Number of trees.", NULL},
    {"n_columns", (getter)forest_get_n_columns, NULL,
     "Columns X needs at least: 1 + the largest split column (0 without splits).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ForestType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "chromesift.models._forest.Forest",
    .tp_basicsize = sizeof(ForestObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = forest_doc,
    .tp_new = forest_new,
    .tp_dealloc = (destructor)forest_dealloc,
    .tp_methods = forest_type_methods,
    .tp_getset = forest_getset,
};

/* --- add_trees: check, pack and add in one call --------------------------------------------- */

PyDoc_STRVAR(add_trees_doc,
"add_trees(feature, threshold, left, right, is_leaf, missing_go_to_left, value, roots, X, out)\n"
"--\n\n"
"Forest(feature, ..., roots).add(X, out) in one call: the nodes are checked and packed\n"
"on every call, so a Forest is faster where the same trees predict more than once.");

static PyObject *
add_trees(PyObject *self, PyObject *args)
{
    PyObject *objs[N_NODE_ARGS], *x_obj, *out_obj;
    Packed packed;

    if (!PyArg_ParseTuple(args, "OOOOOOOOOO:add_trees", &objs[0], &objs[1], &objs[2],
                          &objs[3], &objs[4], &objs[5], &objs[6], &objs[7], &x_obj,
                          &out_obj)) {
        return NULL;
    }
    if (pack_nodes(objs, &packed) < 0) {
        return NULL;
    }
    const int status = add_packed(&packed, x_obj, out_obj);
    packed_free(&packed);
    if (status < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* --- expit: the logistic function in place -------------------------------------------------- */

PyDoc_STRVAR(expit_doc,
"expit(x)\n"
"--\n\n"
"Replace each x[i] of a writable contiguous float64 array by 1 / (1 + exp(-x[i])), with\n"
"the C library's exp (math.exp's, so the same values as a loop over it, row by row).");

static PyObject *
expit(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (get_vector(arg, &view, 'd', sizeof(double), 1, "x") < 0) {
        return NULL;
    }
    double *x = view.buf;
    const Py_ssize_t n = view.shape[0];
    for (Py_ssize_t i = 0; i < n; i++) {
        x[i] = 1.0 / (1.0 + exp(-x[i]));
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyMethodDef forest_methods[] = {
    {"add_trees", add_trees, METH_VARARGS, add_trees_doc},
    {"expit", expit, METH_O, expit_doc},
    {NULL, NULL, 0, NULL},
};

static int
forest_exec(PyObject *module)
{
    if (PyType_Ready(&ForestType) < 0) {
        return -1;
    }
    return PyModule_AddObjectRef(module, "Forest", (PyObject *)&ForestType);
}

static PyModuleDef_Slot forest_slots[] = {
    {Py_mod_exec, forest_exec},
    {0, NULL},
};

static struct PyModuleDef forest_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "chromesift.models._forest",
    .m_doc = "Sum of the leaf values of a forest of binary trees (see chromesift.models.forest).",
    .m_size = 0,
    .m_methods = forest_methods,
    .m_slots = forest_slots,
};

PyMODINIT_FUNC
PyInit__forest(void)
{
    return PyModuleDef_Init(&forest_module);
}
