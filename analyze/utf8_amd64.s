#include "textflag.h"

// The tables of the "lookup" UTF-8 validation of Keiser and Lemire
// ("Validating UTF-8 in less than one instruction per byte", Software:
// Practice and Experience 51(5), 2021), as simdjson and simdutf use it. Each
// error a pair of adjacent bytes can show has a bit:
//
//	0x01 too short:   a lead byte (or 11______) not followed by a continuation
//	0x02 too long:    an ASCII byte followed by a continuation
//	0x04 overlong 3:  11100000 100_____
//	0x08 too large:   above U+10FFFF (11110100 1001____, 11110101 and up)
//	0x10 surrogate:   11101101 101_____
//	0x20 overlong 2:  1100000_ 10______
//	0x40 too large (1000____ after 11110101 and up), overlong 4 (11110000 1000____)
//	0x80 two continuations: 10______ 10______ (checked against the lengths)
//
// A pair has an error where the lookups of the first byte's high nibble,
// its low nibble and the second byte's high nibble share a bit. Each table
// is stored twice (one Y register).
DATA utf8Byte1High<>+0(SB)/8, $0x0202020202020202
DATA utf8Byte1High<>+8(SB)/8, $0x4915012180808080
DATA utf8Byte1High<>+16(SB)/8, $0x0202020202020202
DATA utf8Byte1High<>+24(SB)/8, $0x4915012180808080
GLOBL utf8Byte1High<>(SB), RODATA|NOPTR, $32
DATA utf8Byte1Low<>+0(SB)/8, $0xcbcbcb8b8383a3e7
DATA utf8Byte1Low<>+8(SB)/8, $0xcbcbdbcbcbcbcbcb
DATA utf8Byte1Low<>+16(SB)/8, $0xcbcbcb8b8383a3e7
DATA utf8Byte1Low<>+24(SB)/8, $0xcbcbdbcbcbcbcbcb
GLOBL utf8Byte1Low<>(SB), RODATA|NOPTR, $32
DATA utf8Byte2High<>+0(SB)/8, $0x0101010101010101
DATA utf8Byte2High<>+8(SB)/8, $0x01010101babaaee6
DATA utf8Byte2High<>+16(SB)/8, $0x0101010101010101
DATA utf8Byte2High<>+24(SB)/8, $0x01010101babaaee6
GLOBL utf8Byte2High<>(SB), RODATA|NOPTR, $32

// Subtracted (saturating) from a block, leaves a byte >= 0x80 in its last
// three positions where a character starts that the block does not finish.
DATA utf8Incomplete<>+0(SB)/8, $0xffffffffffffffff
DATA utf8Incomplete<>+8(SB)/8, $0xffffffffffffffff
DATA utf8Incomplete<>+16(SB)/8, $0xffffffffffffffff
DATA utf8Incomplete<>+24(SB)/8, $0xbfdfefffffffffff
GLOBL utf8Incomplete<>(SB), RODATA|NOPTR, $32

// 0xe0-0x80 and 0xf0-0x80: subtracted (saturating) from the byte two and
// three positions back, leave a byte >= 0x80 where it is the lead of a
// three- or four-byte character, so that this byte must be a continuation.
DATA utf8Third<>+0(SB)/8, $0x6060606060606060
DATA utf8Third<>+8(SB)/8, $0x6060606060606060
DATA utf8Third<>+16(SB)/8, $0x6060606060606060
DATA utf8Third<>+24(SB)/8, $0x6060606060606060
GLOBL utf8Third<>(SB), RODATA|NOPTR, $32
DATA utf8Fourth<>+0(SB)/8, $0x7070707070707070
DATA utf8Fourth<>+8(SB)/8, $0x7070707070707070
DATA utf8Fourth<>+16(SB)/8, $0x7070707070707070
DATA utf8Fourth<>+24(SB)/8, $0x7070707070707070
GLOBL utf8Fourth<>(SB), RODATA|NOPTR, $32
DATA utf8High<>+0(SB)/8, $0x8080808080808080
DATA utf8High<>+8(SB)/8, $0x8080808080808080
DATA utf8High<>+16(SB)/8, $0x8080808080808080
DATA utf8High<>+24(SB)/8, $0x8080808080808080
GLOBL utf8High<>(SB), RODATA|NOPTR, $32

// The control characters text logs do not have (textcheck.go's
// isTextControl), looked up by nibbles like the pairs: a byte c is one
// where ctlLow[c&15] & ctlHigh[c>>4] != 0; bit 0 for 0x00-0x0f (all but
// \b \t \n \v \f \r), bit 1 for 0x10-0x1f (all but ESC).
DATA utf8CtlLow<>+0(SB)/8, $0x0303030303030303
DATA utf8CtlLow<>+8(SB)/8, $0x0303020200020202
DATA utf8CtlLow<>+16(SB)/8, $0x0303030303030303
DATA utf8CtlLow<>+24(SB)/8, $0x0303020200020202
GLOBL utf8CtlLow<>(SB), RODATA|NOPTR, $32
DATA utf8CtlHigh<>+0(SB)/8, $0x0000000000000201
DATA utf8CtlHigh<>+8(SB)/8, $0x0000000000000000
DATA utf8CtlHigh<>+16(SB)/8, $0x0000000000000201
DATA utf8CtlHigh<>+24(SB)/8, $0x0000000000000000
GLOBL utf8CtlHigh<>(SB), RODATA|NOPTR, $32

// func textBlocksAVX2(p *byte, n int) (valid, odd bool)
//
// valid: whether p[:n] (n a multiple of 32) has no UTF-8 error, a
// character that p[n:] may complete excepted (validUTF8 checks the end);
// odd: whether it has a control character text logs do not have (NUL
// included). Per 32-byte block: the controls are looked up by nibbles
// (Y11 collects them); a block of ASCII only needs the previous block to
// have finished its last character; any other block is looked up by pairs
// of adjacent bytes (the tables above) and the two-continuation bit is
// checked against the lead bytes two and three positions back (Y10 collects
// the errors).
TEXT ·textBlocksAVX2(SB), NOSPLIT, $0-18
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), BX
	MOVL $0x0f0f0f0f, AX
	MOVD AX, X15
	VPBROADCASTD X15, Y15 // 0x0f
	VMOVDQU utf8Byte1High<>(SB), Y14
	VMOVDQU utf8Byte1Low<>(SB), Y13
	VMOVDQU utf8Byte2High<>(SB), Y12
	VMOVDQU utf8CtlLow<>(SB), Y7
	VMOVDQU utf8CtlHigh<>(SB), Y6
	VPXOR Y11, Y11, Y11 // odd controls
	VPXOR Y10, Y10, Y10 // errors
	VPXOR Y9, Y9, Y9    // the previous block (none: as ASCII)
	VPXOR Y8, Y8, Y8    // its unfinished character
	XORQ CX, CX
loop:
	CMPQ CX, BX
	JGE  done
	VMOVDQU (SI)(CX*1), Y0
	VPSRLW $4, Y0, Y1
	VPAND Y15, Y1, Y1     // high nibbles
	VPAND Y15, Y0, Y2
	VPSHUFB Y2, Y7, Y2
	VPSHUFB Y1, Y6, Y3
	VPAND Y3, Y2, Y2
	VPOR Y2, Y11, Y11
	VPMOVMSKB Y0, AX
	TESTL AX, AX
	JNZ  multibyte
	VPOR Y8, Y10, Y10
	VMOVDQA Y0, Y9
	ADDQ $32, CX
	JMP  loop
multibyte:
	VPSHUFB Y1, Y12, Y1   // by the second byte's high nibble
	// Y2, Y3, Y4: each byte's predecessor one, two and three back.
	VPERM2I128 $0x21, Y0, Y9, Y5 // the high half of the previous block, the low half of this one
	VPALIGNR $15, Y5, Y0, Y2
	VPALIGNR $14, Y5, Y0, Y3
	VPALIGNR $13, Y5, Y0, Y4
	VPSRLW $4, Y2, Y5
	VPAND Y15, Y5, Y5
	VPSHUFB Y5, Y14, Y5   // by the first byte's high nibble
	VPAND Y1, Y5, Y5
	VPAND Y15, Y2, Y2
	VPSHUFB Y2, Y13, Y2   // its low nibble
	VPAND Y2, Y5, Y5      // the errors of each pair
	VPSUBUSB utf8Third<>(SB), Y3, Y3
	VPSUBUSB utf8Fourth<>(SB), Y4, Y4
	VPOR Y4, Y3, Y3
	VPAND utf8High<>(SB), Y3, Y3 // 0x80 where a continuation must be
	VPXOR Y3, Y5, Y5
	VPOR Y5, Y10, Y10
	VPSUBUSB utf8Incomplete<>(SB), Y0, Y8
	VMOVDQA Y0, Y9
	ADDQ $32, CX
	JMP  loop
done:
	VPTEST Y10, Y10
	SETEQ valid+16(FP)
	VPTEST Y11, Y11
	SETNE odd+17(FP)
	VZEROUPPER
	RET
