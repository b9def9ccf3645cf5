#include "textflag.h"

// func specialIndex(p *byte, n int) int
//
// For n >= 16: the index of the first byte of p[:n] that is '"', '\\' or
// below 0x20, or n when there is none.
//
// SSE2 only (part of every amd64 CPU): per 16-byte block, PCMPEQB against
// the broadcast '"' and '\\', and for the control characters PMAXUB with
// 0x1f followed by PCMPEQB with 0x1f (max(c, 0x1f) == 0x1f exactly when
// c <= 0x1f), OR-ed together and PMOVMSKB to 16 bits. A last partial
// block is read as the 16 bytes ending at p[n-1]; the bytes it shares with
// the previous block are plain, so its first flagged byte is the answer.
// Nothing outside p[:n] is read.
TEXT ·specialIndex(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), BX
	MOVQ $0x22222222, AX
	MOVQ AX, X4
	PSHUFD $0, X4, X4    // '"' in every byte
	MOVQ $0x5c5c5c5c, AX
	MOVQ AX, X5
	PSHUFD $0, X5, X5    // '\\'
	MOVQ $0x1f1f1f1f, AX
	MOVQ AX, X6
	PSHUFD $0, X6, X6    // 0x1f
	XORQ CX, CX          // start of the current block
	LEAQ -16(BX), R8     // start of the last block
loop:
	CMPQ CX, R8
	JLE  block
	CMPQ CX, BX          // fewer than 16 bytes left:
	JGE  none
	MOVQ R8, CX          // the 16 ending at p[n-1], then none
block:
	MOVOU (SI)(CX*1), X0
	MOVO X0, X1
	MOVO X0, X2
	PCMPEQB X4, X0
	PCMPEQB X5, X1
	PMAXUB X6, X2
	PCMPEQB X6, X2
	POR X1, X0
	POR X2, X0
	PMOVMSKB X0, AX
	TESTL AX, AX
	JNZ found
	ADDQ $16, CX
	JMP loop
none:
	MOVQ BX, ret+16(FP)
	RET
found:
	BSFL AX, AX
	ADDQ CX, AX
	MOVQ AX, ret+16(FP)
	RET
