/*
 * The floor of benchmarks/compare.py: call every receiver of a list with the
 * same arguments, from a plain C loop, and drop the results.
 *
 *     call_each(receivers, args, kwnames)
 *     call_collect(receivers, args, kwnames)   (the same, returning Django's
 *                                               list of (receiver, response))
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

/* The arguments of both functions, in vectorcall form. */
struct call {
    PyObject *receivers;
    PyObject *const *stack;
    Py_ssize_t nargs;
    PyObject *kwnames;
};

/* 0, or -1 with an exception set. */
static int
parse_call(PyObject *const *argv, Py_ssize_t argc, struct call *call)
{
    if (argc != 3 || !PyList_Check(argv[0]) || !PyTuple_Check(argv[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "call_each(receivers: list, args: tuple, kwnames)");
        return -1;
    }
    PyObject *names = argv[2];
    Py_ssize_t nkw = 0;
    if (names == Py_None) {
        names = NULL;
    }
    else if (PyTuple_Check(names)) {
        nkw = PyTuple_GET_SIZE(names);
        if (nkw == 0) {
            names = NULL;
        }
    }
    else {
        PyErr_SetString(PyExc_TypeError, "kwnames must be a tuple or None");
        return -1;
    }
    call->nargs = PyTuple_GET_SIZE(argv[1]) - nkw;
    if (call->nargs < 0) {
        PyErr_SetString(PyExc_ValueError, "fewer values than keyword names");
        return -1;
    }
    call->receivers = argv[0];
    call->stack = &PyTuple_GET_ITEM(argv[1], 0);
    call->kwnames = names;
    return 0;
}

static PyObject *
call_each(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    (void)module;
    struct call call;
    if (parse_call(argv, argc, &call) < 0) {
        return NULL;
    }
    PyObject *receivers = call.receivers;
    /* The list is not changed by the trivial receivers of the benchmark, but
       index it afresh at each step, as a careful dispatcher would. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(receivers); i++) {
        PyObject *receiver = PyList_GET_ITEM(receivers, i);
        Py_INCREF(receiver);
        PyObject *result = PyObject_Vectorcall(receiver, call.stack, call.nargs, call.kwnames);
        Py_DECREF(receiver);
        if (result == NULL) {
            return NULL;
        }
        Py_DECREF(result);
    }
    Py_RETURN_NONE;
}

/*
 * call_collect(receivers, args, kwnames): the same loop, returning what
 * Django's send returns, a list of (receiver, response) pairs. Its cost over
 * call_each is what that return value costs by itself, which any dispatcher
 * returning it pays.
 */
static PyObject *
call_collect(PyObject *module, PyObject *const *argv, Py_ssize_t argc)
{
    (void)module;
    struct call call;
    if (parse_call(argv, argc, &call) < 0) {
        return NULL;
    }
    PyObject *receivers = call.receivers;
    Py_ssize_t n = PyList_GET_SIZE(receivers);
    PyObject *responses = PyList_New(n);
    if (responses == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i >= PyList_GET_SIZE(receivers)) {
            PyErr_SetString(PyExc_RuntimeError, "receivers changed size");
            Py_DECREF(responses);
            return NULL;
        }
        PyObject *receiver = PyList_GET_ITEM(receivers, i);
        Py_INCREF(receiver);
        PyObject *result = PyObject_Vectorcall(receiver, call.stack, call.nargs, call.kwnames);
        if (result == NULL) {
            Py_DECREF(receiver);
            Py_DECREF(responses);
            return NULL;
        }
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(receiver);
            Py_DECREF(result);
            Py_DECREF(responses);
            return NULL;
        }
        PyTuple_SET_ITEM(pair, 0, receiver);
        PyTuple_SET_ITEM(pair, 1, result);
        PyList_SET_ITEM(responses, i, pair);
    }
    return responses;
}

static PyMethodDef floor_methods[] = {
    {"call_each", (PyCFunction)(void (*)(void))call_each, METH_FASTCALL,
     "call_each(receivers, args, kwnames): call each receiver, drop results."},
    {"call_collect", (PyCFunction)(void (*)(void))call_collect, METH_FASTCALL,
     "call_collect(receivers, args, kwnames): call each receiver, return "
     "[(receiver, response), ...]."},
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
