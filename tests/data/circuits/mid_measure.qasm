// Mid-circuit measurement: q[0] is measured, then entangled again and measured at the end.
OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[1] early;
bit[2] c;
h q[0];
early[0] = measure q[0];
ry(0.9) q[0];
cx q[0], q[1];
c[0] = measure q[0];
c[1] = measure q[1];
