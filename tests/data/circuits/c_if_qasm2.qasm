// Classically conditioned gate in OpenQASM 2: flip q[1] when the first bit read 1.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg flag[1];
creg out[2];
ry(1.3) q[0];
measure q[0] -> flag[0];
if(flag==1) x q[1];
h q[0];
measure q[0] -> out[0];
measure q[1] -> out[1];
