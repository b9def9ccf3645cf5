#include "textflag.h"

// MARK32 sets NL, GM and CODE to the 32-bit masks of the 32 bytes at
// OFF(SI) (Y0), with the bytes one further on (Y1): '\n' (Y8), 'G' then
// 'M' (Y9, Y10), 'x' then 'i' (Y11, Y12) or 'D' then 'E' (Y13, Y14).
#define MARK32(OFF, NL, GM, CODE) \
	VMOVDQU OFF(SI), Y0 \
	VMOVDQU OFF+1(SI), Y1 \
	VPCMPEQB Y8, Y0, Y2 \
	VPMOVMSKB Y2, NL \
	VPCMPEQB Y9, Y0, Y2 \
	VPCMPEQB Y10, Y1, Y3 \
	VPAND Y2, Y3, Y2 \
	VPMOVMSKB Y2, GM \
	VPCMPEQB Y11, Y0, Y2 \
	VPCMPEQB Y12, Y1, Y3 \
	VPAND Y2, Y3, Y2 \
	VPCMPEQB Y13, Y0, Y4 \
	VPCMPEQB Y14, Y1, Y5 \
	VPAND Y4, Y5, Y4 \
	VPOR Y2, Y4, Y2 \
	VPMOVMSKB Y2, CODE

#define BROADCAST(C, Y) \
	MOVL $C, AX \
	MOVQ AX, X0 \
	VPBROADCASTB X0, Y

// func markWordsAVX2(p *byte, k int, m *markWord, nl, code uint32)
//
// AVX2 only (callers check useAVX2): m[w] for w < k are the marks of
// p[64w:64w+64] and the counts before them (markWord), from nl and code;
// the pairs' second bytes are the same loads one byte further on, so
// p[64k] is read too.
TEXT ·markWordsAVX2(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ k+8(FP), CX
	MOVQ m+16(FP), DI
	BROADCAST(0x0a, Y8)
	BROADCAST(0x47, Y9)   // 'G'
	BROADCAST(0x4d, Y10)  // 'M'
	BROADCAST(0x78, Y11)  // 'x'
	BROADCAST(0x69, Y12)  // 'i'
	BROADCAST(0x44, Y13)  // 'D'
	BROADCAST(0x45, Y14)  // 'E'
	MOVLQZX nl+24(FP), R11    // '\n' so far
	MOVLQZX code+28(FP), R12  // code marks so far
	TESTQ CX, CX
	JEQ  done
loop:
	MARK32(0, AX, BX, DX)
	MARK32(32, R8, R9, R10)
	SHLQ $32, R8
	ORQ  R8, AX
	MOVQ AX, 0(DI)
	SHLQ $32, R9
	ORQ  R9, BX
	MOVQ BX, 8(DI)
	SHLQ $32, R10
	ORQ  R10, DX
	MOVQ DX, 16(DI)
	MOVL R11, 24(DI)
	MOVL R12, 28(DI)
	POPCNTQ AX, R13
	ADDQ R13, R11
	POPCNTQ DX, R13
	ADDQ R13, R12
	ADDQ $64, SI
	ADDQ $32, DI
	DECQ CX
	JNE  loop
done:
	VZEROUPPER
	RET
