/*
 * The floor of benchmarks/compare.py: call every receiver of a list with the
 * same arguments, from a plain C loop, and drop the results.
 *
 *     call_each(receivers, args, kwnames)
 *
 * `args` holds the positional arguments followed by the values of the keyword
 * arguments named by the tuple `kwnames` (None or empty: positional only), the
 * layout of CPython's vectorcall protocol. Each receiver is called with
 * PyObject_Vectorcall, the cheapest way CPython offers to call a Python function
 * from C: no argument tuple or keyword dict is built by the caller. It is what a
 * dispatcher written in C or Rust does at best to call one receiver.
 *
 * Built on demand by compare.py (the C compiler of sysconfig); not shipped.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
call_each(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    (void)module;
    if (argc != 3 || !PyList_Check(argv[0]) || !PyTuple_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "call_each(receivers: list, args: tuple, kwnames)");
        return NULL;
    }
    PyObject *receivers = argv[0];
    PyObject *args = argv[1];
    PyObject *kwnames = argv[2];
    Py_ssize_t nkw = 0;
    if (kwnames == Py_None) {
        kwnames = NULL;
    }
    else if (PyTuple_Check(kwnames)) {
        nkw = PyTuple_GET_SIZE(kwnames);
        if (nkw == 0) {
            kwnames = NULL;
        }
    }
    else {
        PyErr_SetString(PyExc_TypeError, "kwnames must be a tuple or None");
        return NULL;
    }
    Py_ssize_t nargs = PyTuple_GET_SIZE(args) - nkw;
    if (nargs < 0) {
        PyErr_SetString(PyExc_ValueError, "fewer values than keyword names");
        return NULL;
    }
    PyObject *const *stack = &PyTuple_GET_ITEM(args, 0);
    /* The list is not changed by the trivial receivers of the benchmark, but
       index it afresh at each step, as a careful dispatcher would. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(receivers); i++) {
        PyObject *receiver = PyList_GET_ITEM(receivers, i);
        Py_INCREF(receiver);
        PyObject *result = PyObject_Vectorcall(receiver, stack, nargs, kwnames);
        Py_DECREF(receiver);
        if (result == NULL) {
            return NULL;
        }
        Py_DECREF(result);
    }
    Py_RETURN_NONE;
}

static PyMethodDef floor_methods[] = {
    {"call_each", (PyCFunction)(void (*)(void))call_each, METH_FASTCALL,
     "call_each(receivers, args, kwnames): call each receiver, drop results."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef floor_module = {
    PyModuleDef_HEAD_INIT, "_benchfloor", NULL, -1, floor_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__benchfloor(void)
{
    return PyModule_Create(&floor_module);
}
