#include "textflag.h"

// func indexOddControl(p []byte) int
//
// The index of the first byte of p below 0x20 other than '\n', len(p) if
// there is none. SSE2 (every amd64 CPU): per 16-byte block, PMINUB with
// 0x1f and PCMPEQB find the bytes <= 0x1f, a PCMPEQB with '\n' the line
// ends, PANDN drops them, PMOVMSKB makes a mask. The last bytes (fewer than
// 16) are looked at one by one; nothing outside p is read.
TEXT ·indexOddControl(SB), NOSPLIT, $0-32
	MOVQ p_base+0(FP), SI
	MOVQ p_len+8(FP), BX
	MOVQ $0x1f1f1f1f1f1f1f1f, AX
	MOVQ AX, X1
	PUNPCKLQDQ X1, X1
	MOVQ $0x0a0a0a0a0a0a0a0a, AX
	MOVQ AX, X2
	PUNPCKLQDQ X2, X2
	XORQ CX, CX
loop:
	LEAQ 16(CX), DX
	CMPQ DX, BX
	JGT  tail
	MOVOU (SI)(CX*1), X0
	MOVO X0, X3
	PMINUB X1, X3        // min(byte, 0x1f)
	PCMPEQB X0, X3       // 0xff where byte <= 0x1f
	PCMPEQB X2, X0       // 0xff where byte == '\n'
	PANDN X3, X0         // X0 = ^X0 & X3
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ  found
	MOVQ DX, CX
	JMP  loop
found:
	BSFL AX, AX
	ADDQ CX, AX
	MOVQ AX, ret+24(FP)
	RET
tail:
	CMPQ CX, BX
	JGE  none
	MOVBLZX (SI)(CX*1), AX
	CMPL AX, $0x1f
	JHI  next
	CMPL AX, $0x0a
	JNE  foundtail
next:
	INCQ CX
	JMP  tail
foundtail:
	MOVQ CX, ret+24(FP)
	RET
none:
	MOVQ BX, ret+24(FP)
	RET
