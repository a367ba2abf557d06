// Three qubits, two measured into a 4-bit register: unmeasured clbits read 0.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[4];
ry(1.2) q[0];
cx q[0],q[1];
h q[2];
measure q[1] -> c[3];
measure q[2] -> c[1];
