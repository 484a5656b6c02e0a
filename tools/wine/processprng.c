// SPDX-License-Identifier: Apache-2.0 OR MIT
/* bcryptprimitives.dll for Wine 8.0, which lacks it: Go 1.22 and later
 * fill their random numbers with ProcessPrng from that DLL at start-up, and
 * a Go Windows binary stops at once without it.  This one exports
 * ProcessPrng and fills the buffer from RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has.  Built and installed into a prefix
 * by install-processprng.sh; never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buf, ULONG len); /* RtlGenRandom */

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!SystemFunction036(data, n)) return FALSE;
    data += n;
    len -= n;
  }
  return TRUE; /* as Windows's: it does not fail */
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved) {
  (void)inst;
  (void)reason;
  (void)reserved;
  return TRUE;
}
