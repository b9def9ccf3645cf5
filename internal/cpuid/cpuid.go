// Package cpuid tells which vector instructions the CPU and the operating
// system support, for the assembly of the parser and analyze packages.
package cpuid
