// A condition on a whole 2-bit register value (OpenQASM 3): act only when m == 2.
OPENQASM 3.0;
include "stdgates.inc";
qubit[3] q;
bit[2] m;
bit[1] r;
h q[0];
h q[1];
m[0] = measure q[0];
m[1] = measure q[1];
if (m == 2) {
  x q[2];
}
r[0] = measure q[2];
