// glibc's malloc settings for the server's process (the image sets the same in the Dockerfile).
//
// Node keeps Buffers outside the JavaScript heap, in memory from malloc. By default glibc serves
// large allocations with a fresh mmap and moves that threshold with what the process frees, so a
// server that has answered many small reads serves each page of a list (several MiB of database
// bytes and the answer built from them) from fresh pages: a page fault per 4 KiB, and the list cost
// twice the CPU (etcd list-500 after the GET workloads: 42 against 19.5 ms a page). Up to 32 MiB
// (glibc's ceiling for this setting) comes from the heap instead, and up to 128 MiB freed at its top
// stays mapped for the next page.
export const MALLOC_ENV = {
  MALLOC_MMAP_THRESHOLD_: String(32 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(128 * 1024 * 1024),
};
