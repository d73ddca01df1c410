package data

// haveAsm: the AVX2 kernels (*_amd64.s) are built on this architecture.
const haveAsm = true
