// GHZ on five qubits read into a 3-bit register zr and a 2-bit register a (OpenQASM 3).
OPENQASM 3.0;
include "stdgates.inc";
qubit[5] q;
bit[3] zr;
bit[2] a;
h q[0];
cx q[0], q[1];
cx q[1], q[2];
cx q[2], q[3];
cx q[3], q[4];
x q[4];
a[0] = measure q[0];
zr[2] = measure q[1];
zr[0] = measure q[2];
a[1] = measure q[3];
zr[1] = measure q[4];
