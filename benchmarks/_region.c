/* A measured region for callgrind (benchmarks/app.py --callgrind).
 *
 * fastdispatch_bench_region(f) calls f(). Run under
 *   valgrind --tool=callgrind --collect-atstart=no
 *     --toggle-collect=fastdispatch_bench_region
 *     --dump-after=fastdispatch_bench_region
 * callgrind counts only what runs inside this function, and writes one
 * profile per call. It is never inlined, so callgrind sees it by name.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

__attribute__((noinline)) PyObject *
fastdispatch_bench_region(PyObject *module, PyObject *callable)
{
    (void)module;
    return PyObject_CallNoArgs(callable);
}

static PyMethodDef region_methods[] = {
    {"fastdispatch_bench_region", fastdispatch_bench_region, METH_O,
     "Call the argument with no arguments."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef region_module = {
    PyModuleDef_HEAD_INIT, "_benchregion", NULL, -1, region_methods,
};

PyMODINIT_FUNC
PyInit__benchregion(void)
{
    return PyModule_Create(&region_module);
}
