#include "textflag.h"

// func maskAnchors(p *byte, n int, v *anchorVec) uint64
//
// For 16 <= n <= 64: a bit per byte of p[:n] (bit i for p[i]) that is set
// where the byte equals one of the four anchor bytes of v.
//
// SSE2 only (part of every amd64 CPU, GOAMD64=v1): per 16-byte block, four
// PCMPEQB against the broadcast anchor bytes, OR-ed together, PMOVMSKB to
// 16 bits, shifted into place. A last partial block is read as the 16 bytes
// ending at p[n-1], which overlap the previous block; the overlapping bits
// are the same, so OR-ing them in again is harmless. Nothing outside p[:n]
// is read.
//
// With AVX2 (useAVX2, checked once at start-up) and n >= 32, two 32-byte
// blocks do the same: the first 32 bytes and the 32 ending at p[n-1].
TEXT ·maskAnchors(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), BX
	MOVQ v+16(FP), DI
	CMPQ BX, $32
	JLT  sse2
	CMPB ·useAVX2(SB), $0
	JNE  avx2
sse2:
	MOVOU 0(DI), X4
	MOVOU 16(DI), X5
	MOVOU 32(DI), X6
	MOVOU 48(DI), X7
	XORQ AX, AX          // result mask
	XORQ CX, CX          // bit position of the current block
	LEAQ -16(BX), R8     // last block start
loop:
	CMPQ CX, R8
	JGT  tail            // fewer than 16 bytes left
	MOVOU (SI)(CX*1), X0
	MOVO X0, X1
	MOVO X0, X2
	MOVO X0, X3
	PCMPEQB X4, X0
	PCMPEQB X5, X1
	PCMPEQB X6, X2
	PCMPEQB X7, X3
	POR X1, X0
	POR X3, X2
	POR X2, X0
	PMOVMSKB X0, DX      // 16 bits, zero-extended
	SHLQ CX, DX
	ORQ DX, AX
	ADDQ $16, CX
	JMP loop
tail:
	CMPQ CX, BX
	JGE done             // n was a multiple of 16
	MOVQ R8, CX
	MOVOU (SI)(CX*1), X0
	MOVO X0, X1
	MOVO X0, X2
	MOVO X0, X3
	PCMPEQB X4, X0
	PCMPEQB X5, X1
	PCMPEQB X6, X2
	PCMPEQB X7, X3
	POR X1, X0
	POR X3, X2
	POR X2, X0
	PMOVMSKB X0, DX
	SHLQ CX, DX
	ORQ DX, AX
done:
	MOVQ AX, ret+24(FP)
	RET

avx2:
	VPBROADCASTB 0(DI), Y4
	VPBROADCASTB 16(DI), Y5
	VPBROADCASTB 32(DI), Y6
	VPBROADCASTB 48(DI), Y7
	VMOVDQU (SI), Y0
	VPCMPEQB Y4, Y0, Y1
	VPCMPEQB Y5, Y0, Y2
	VPOR Y1, Y2, Y1
	VPCMPEQB Y6, Y0, Y2
	VPCMPEQB Y7, Y0, Y3
	VPOR Y2, Y3, Y2
	VPOR Y1, Y2, Y1
	VPMOVMSKB Y1, AX     // bits 0-31, zero-extended
	LEAQ -32(BX), CX     // the 32 bytes ending at p[n-1]
	VMOVDQU (SI)(CX*1), Y0
	VPCMPEQB Y4, Y0, Y1
	VPCMPEQB Y5, Y0, Y2
	VPOR Y1, Y2, Y1
	VPCMPEQB Y6, Y0, Y2
	VPCMPEQB Y7, Y0, Y3
	VPOR Y2, Y3, Y2
	VPOR Y1, Y2, Y1
	VPMOVMSKB Y1, DX
	SHLQ CX, DX
	ORQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET

// LOOKUP sets V0 to LO[c&15] & HI[c>>4] for each byte c of V0: LO and HI
// hold 16-byte tables (twice, for Y registers), M 0x0f in every byte; V1
// is clobbered. Used with Y (32 bytes) and X (16 bytes) registers.
#define LOOKUP(V0, V1, LO, HI, M) \
	VPSRLW $4, V0, V1 \
	VPAND M, V0, V0 \
	VPAND M, V1, V1 \
	VPSHUFB V0, LO, V0 \
	VPSHUFB V1, HI, V1 \
	VPAND V0, V1, V0

// PAIRS sets V0 to 0xff at the bytes c of V0, followed by d in V2, for
// which lo0[c&15] & hi0[c>>4] & lo1[d&15] & hi1[d>>4] is zero (tables in
// Y8-Y11 or X8-X11, 0x0f in V6, zero in V7); V1, V2, V3 are clobbered.
#define PAIRS(V0, V1, V2, V3, LO0, HI0, LO1, HI1, V6, V7) \
	LOOKUP(V0, V1, LO0, HI0, V6) \
	LOOKUP(V2, V3, LO1, HI1, V6) \
	VPAND V2, V0, V0 \
	VPCMPEQB V7, V0, V0

// func maskPairs(p *byte, n int, t *pairTables) uint64
//
// AVX2 only (callers check useAVX2), 17 <= n <= 65: a bit per position
// i < n-1 (bit i) that is set where the bytes p[i], p[i+1] share a bucket
// bit in the tables of t (pairTables.pass). The second bytes are the same
// loads one byte further on. Two blocks of 32 (or 16) positions cover the
// n-1 positions: the first and the last (overlapping bits agree).
TEXT ·maskPairs(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), BX
	MOVQ t+16(FP), DI
	DECQ BX              // positions
	VMOVDQU 0(DI), Y8    // lo0
	VMOVDQU 32(DI), Y9   // hi0
	VMOVDQU 64(DI), Y10  // lo1
	VMOVDQU 96(DI), Y11  // hi1
	VMOVDQU 128(DI), Y6  // 0x0f, 32 times
	VPXOR Y7, Y7, Y7
	LEAQ -32(BX), CX     // the last 32 positions
	CMPQ BX, $32
	JLT  pshort
	VMOVDQU (SI), Y0
	VMOVDQU 1(SI), Y2
	PAIRS(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11, Y6, Y7)
	VPMOVMSKB Y0, AX
	NOTL AX
	VMOVDQU (SI)(CX*1), Y0
	VMOVDQU 1(SI)(CX*1), Y2
	PAIRS(Y0, Y1, Y2, Y3, Y8, Y9, Y10, Y11, Y6, Y7)
	VPMOVMSKB Y0, DX
	NOTL DX
	SHLQ CX, DX
	ORQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET
pshort:
	ADDQ $16, CX         // the last 16 positions
	VMOVDQU (SI), X0
	VMOVDQU 1(SI), X2
	PAIRS(X0, X1, X2, X3, X8, X9, X10, X11, X6, X7)
	VPMOVMSKB X0, AX
	XORL $0xffff, AX
	VMOVDQU (SI)(CX*1), X0
	VMOVDQU 1(SI)(CX*1), X2
	PAIRS(X0, X1, X2, X3, X8, X9, X10, X11, X6, X7)
	VPMOVMSKB X0, DX
	XORL $0xffff, DX
	SHLQ CX, DX
	ORQ DX, AX
	VZEROUPPER
	MOVQ AX, ret+24(FP)
	RET
