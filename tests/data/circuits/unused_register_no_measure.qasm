// No measurements and an unused register `mm`: qrun adds measure_all's `meas` after it.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg mm[2];
h q[0];
cx q[0],q[1];
ry(0.7) q[2];
