// A QASM file with a syntax error on line 5: the diagnostic must point here.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
hh q[0];
cx q[0],q[1];
