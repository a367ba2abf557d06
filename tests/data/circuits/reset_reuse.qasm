// A qubit measured, reset and reused (OpenQASM 2).
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg first[1];
creg c[2];
ry(1.1) q[0];
measure q[0] -> first[0];
reset q[0];
h q[0];
cx q[0],q[1];
measure q[0] -> c[0];
measure q[1] -> c[1];
