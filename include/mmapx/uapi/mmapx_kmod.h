/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * mmapx_kmod.h - the interface between the mmapx reference kernel module
 * (kmod/) and user space: device names, the mmap offset encoding, ioctls and
 * the producer's buffer pattern. Plain C, so the module, C programs and the
 * C++ library (include/mmapx/kmod.hpp) share one definition.
 *
 * Devices: /dev/mmapx0 ... /dev/mmapx<N-1>, one per minor (module parameter
 * "minors"). Each minor owns, for every supported cache mode, "buffers"
 * buffers of "buffer_size" bytes (module parameters), physically contiguous,
 * below 4 GiB, zeroed at load and whenever the minor is opened while nobody
 * has it open or mapped, plus one read-only status page holding
 * struct mmapx_kmod_geometry. Any holder of the device may map, start, stop
 * and consume; physical addresses are for CAP_SYS_ADMIN only.
 *
 * mmap offsets (in the manner of UIO, where offset N * page size selects map
 * N): the offset is split into a window selector and a byte offset inside the
 * window, so a mapping may start anywhere inside a buffer:
 *
 *   bits  0..23  byte offset inside the buffer (page aligned, as mmap needs)
 *   bits 24..31  buffer index (< geometry.buffer_count)
 *   bits 32..33  cache mode: MMAPX_KMOD_CACHED, _UNCACHED, _WRITE_COMBINING
 *   bit  34      method: 0 = eager (all pages mapped by mmap itself),
 *                1 = lazy (each page mapped by the fault handler on first use)
 *   bit  35      status page (then bits 24..34 must be zero)
 *   bits 36..63  zero
 *
 * The cache mode belongs to the buffer, not to the mapping: the module gives
 * every buffer of a cache mode that memory type in the kernel's own mapping
 * (set_memory_uc / set_memory_wc on x86) and every user mapping of it the
 * same type, so no two mappings of a page ever disagree (x86 PAT rules).
 *
 * mmap errors, in the order the module checks them (the kernel's own checks,
 * such as an unaligned offset or a zero length, come first):
 *   EINVAL  MAP_PRIVATE: copy-on-write of device buffers is not supported
 *   EINVAL  reserved offset bits set, buffer index or cache mode unknown
 *   EINVAL  [offset, offset + length) not inside the selected buffer
 *   EACCES  PROT_WRITE on the status page (which is read-only for good:
 *           mprotect cannot add write later either)
 *   EPERM   PROT_EXEC (buffers are data; mprotect cannot add exec later)
 * Mappings cannot grow (mremap fails with EFAULT); fork shares them.
 *
 * Producer (a stand-in for a DMA engine): MMAPX_KMOD_IOC_START fills the
 * buffers of one cache mode in ring order (0, 1, ..., buffer_count - 1, 0,
 * ...), one every period_ns, with the pattern below. read()
 * returns one struct mmapx_kmod_event per ready buffer, oldest first (EINVAL
 * for a smaller count, EAGAIN under O_NONBLOCK when none is ready); poll()
 * reports EPOLLIN while one is ready. The consumer hands a buffer back by
 * write()ing its __u32 index (exactly 4 bytes) or with
 * MMAPX_KMOD_IOC_RELEASE; EINVAL if it is not held. When the next buffer in
 * the ring is still ready or held, that sequence number is skipped and
 * counted as an overrun: a consumer sees every loss as a gap in sequence.
 * Stopping drops all ready events and frees all buffers.
 */
#ifndef _UAPI_MMAPX_KMOD_H
#define _UAPI_MMAPX_KMOD_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Reported in geometry.abi_version; raised on any incompatible change. */
#define MMAPX_KMOD_ABI_VERSION		1
/* The path of minor N is this prefix followed by N in decimal. */
#define MMAPX_KMOD_DEVICE_PREFIX	"/dev/mmapx"

/* Cache modes: mmap offset bits 32..33 and the "cache" fields below. */
#define MMAPX_KMOD_CACHED		0
#define MMAPX_KMOD_UNCACHED		1
#define MMAPX_KMOD_WRITE_COMBINING	2
/* Number of cache modes: every valid mode is below it. */
#define MMAPX_KMOD_CACHE_MODES		3

/* Map methods (mmap offset bit 34): all pages at mmap time, or on fault. */
#define MMAPX_KMOD_EAGER		0
#define MMAPX_KMOD_LAZY			1

/* Positions and widths of the mmap offset fields described at the top. */
#define MMAPX_KMOD_WINDOW_SHIFT		24
#define MMAPX_KMOD_INDEX_SHIFT		24
#define MMAPX_KMOD_INDEX_BITS		8
#define MMAPX_KMOD_CACHE_SHIFT		32
#define MMAPX_KMOD_METHOD_SHIFT		34
#define MMAPX_KMOD_STATUS_SHIFT		35
/* Bits in use: bits 36..63 of an mmap offset must be zero. */
#define MMAPX_KMOD_OFFSET_BITS		36

/* Largest buffer: one window. */
#define MMAPX_KMOD_WINDOW_SIZE		_BITULL(MMAPX_KMOD_WINDOW_SHIFT)

/* The mmap offset of byte 0 of a buffer. */
#define MMAPX_KMOD_BUFFER_OFFSET(cache, method, index)			\
	(((__u64)(method) << MMAPX_KMOD_METHOD_SHIFT) |			\
	 ((__u64)(cache) << MMAPX_KMOD_CACHE_SHIFT) |			\
	 ((__u64)(index) << MMAPX_KMOD_INDEX_SHIFT))

/* The mmap offset of the read-only status page. */
#define MMAPX_KMOD_STATUS_OFFSET	_BITULL(MMAPX_KMOD_STATUS_SHIFT)

/* What MMAPX_KMOD_IOC_GEOMETRY returns and the status page holds. */
struct mmapx_kmod_geometry {
	__u32 abi_version;	/* MMAPX_KMOD_ABI_VERSION */
	/* N of /dev/mmapx<N> */
	__u32 minor;
	/* the kernel's page size in bytes */
	__u32 page_size;
	__u32 buffer_count;	/* per cache mode */
	__u64 buffer_size;	/* bytes, a multiple of page_size */
	__u32 cache_modes;	/* bit (1 << MMAPX_KMOD_*) per supported mode */
	__u32 methods;		/* bit (1 << MMAPX_KMOD_EAGER / _LAZY) */
};

/* Counters of one minor since the module was loaded. */
struct mmapx_kmod_stats {
	__u64 faults;		/* pages mapped by the lazy fault handler */
	__u64 live_mappings;	/* mappings (VMAs) that exist now */
	__u64 produced;		/* buffers filled by the producer */
	__u64 overruns;		/* sequence numbers lost: no free buffer */
	__u64 handed_back;	/* buffers returned by consumers */
	__u64 sequence;		/* next sequence number the producer uses */
};

/* Argument of MMAPX_KMOD_IOC_START. */
struct mmapx_kmod_producer {
	/* ns between buffers: MMAPX_KMOD_PERIOD_FLOOR_NS(buffer_size) .. 1 s */
	__u64 period_ns;
	__u32 cache;		/* which cache mode's buffers it fills */
	__u32 reserved;		/* must be zero */
};

/* What read() returns: buffer `index` holds the frame of `sequence`. */
struct mmapx_kmod_event {
	__u64 sequence;
	__u32 index;
	/* always zero */
	__u32 reserved;
};

/* Argument of MMAPX_KMOD_IOC_BUS_ADDRESS: a buffer in, its address out. */
struct mmapx_kmod_bus_address {
	__u32 cache;		/* in */
	__u32 index;		/* in */
	__u64 address;		/* out: bus address of byte 0 (below 4 GiB) */
};

/*
 * The memory type the hardware really uses for one page of a mapping of this
 * device, read back from the page tables and the x86 PAT register: for the
 * user mapping at `address` (which must lie in a mapping of this device in
 * the calling process) and for the kernel's own mapping of the same page.
 * Values are the x86 PAT types below; EOPNOTSUPP on other architectures.
 */
#define MMAPX_KMOD_PAT_UC		0
#define MMAPX_KMOD_PAT_WC		1
#define MMAPX_KMOD_PAT_WT		4
#define MMAPX_KMOD_PAT_WP		5
#define MMAPX_KMOD_PAT_WB		6
#define MMAPX_KMOD_PAT_UC_MINUS		7

/* Argument of MMAPX_KMOD_IOC_MEMTYPE (the PAT types above). */
struct mmapx_kmod_memtype {
	__u64 address;		/* in: user virtual address */
	__u32 user_type;	/* out: MMAPX_KMOD_PAT_* of the user mapping */
	__u32 kernel_type;	/* out: MMAPX_KMOD_PAT_* of the kernel mapping */
	/* out: physical address of that page; 0 without CAP_SYS_ADMIN */
	__u64 physical;
};

/* The ioctl type number of all the module's commands. */
#define MMAPX_KMOD_IOC_MAGIC		0xB8

/* Reads the geometry (the same as the status page holds). */
#define MMAPX_KMOD_IOC_GEOMETRY						\
	_IOR(MMAPX_KMOD_IOC_MAGIC, 0, struct mmapx_kmod_geometry)
/* Reads this minor's counters. */
#define MMAPX_KMOD_IOC_STATS						\
	_IOR(MMAPX_KMOD_IOC_MAGIC, 1, struct mmapx_kmod_stats)
/*
 * Starts the producer, stopping it first if it runs (its ring starts empty,
 * also when the cache mode changes); EINVAL for a period outside
 * MMAPX_KMOD_PERIOD_FLOOR_NS(buffer_size) .. MMAPX_KMOD_PERIOD_MAX_NS, an
 * unsupported cache mode or a nonzero reserved field. The producer then
 * belongs to this open file: closing it (its last descriptor and mapping)
 * stops the producer; another file's close does not. Any holder of the
 * device may START (taking it over) or STOP.
 */
#define MMAPX_KMOD_IOC_START						\
	_IOW(MMAPX_KMOD_IOC_MAGIC, 2, struct mmapx_kmod_producer)
/* Stops the producer: ready events are dropped, held buffers freed. */
#define MMAPX_KMOD_IOC_STOP		_IO(MMAPX_KMOD_IOC_MAGIC, 3)
/* Changes the period (ns, same range as START) without restarting. */
#define MMAPX_KMOD_IOC_SET_PERIOD	_IOW(MMAPX_KMOD_IOC_MAGIC, 4, __u64)
/* Hands back a held buffer by index, as write() does; EINVAL if not held. */
#define MMAPX_KMOD_IOC_RELEASE		_IOW(MMAPX_KMOD_IOC_MAGIC, 5, __u32)
/*
 * The bus address of byte 0 of a buffer, for a device's DMA engine.
 * CAP_SYS_ADMIN only (EPERM otherwise).
 */
#define MMAPX_KMOD_IOC_BUS_ADDRESS					\
	_IOWR(MMAPX_KMOD_IOC_MAGIC, 6, struct mmapx_kmod_bus_address)
/*
 * Reads the memory types of one mapped page (struct mmapx_kmod_memtype).
 * Anyone who holds the device may ask; the physical address is reported to
 * CAP_SYS_ADMIN only (0 otherwise), as BUS_ADDRESS is.
 */
#define MMAPX_KMOD_IOC_MEMTYPE						\
	_IOWR(MMAPX_KMOD_IOC_MAGIC, 7, struct mmapx_kmod_memtype)

/*
 * Limits of the producer period in nanoseconds, inclusive: from
 * MMAPX_KMOD_PERIOD_FLOOR_NS(geometry.buffer_size) to 1 s. The producer fills
 * buffers in the kernel's softirq context, so the floor keeps it from holding
 * a CPU: 10 us plus half a nanosecond per byte of a buffer (it never writes
 * faster than 2 bytes per ns): 42.8 us for 64 KiB buffers, 2.1 ms for 4 MiB
 * ones. Where filling a buffer still takes longer than a quarter of the
 * period (uncached memory can be that slow), the producer waits four fill
 * times before the next one instead of the period, so it never holds a CPU
 * more than a fifth of the time.
 */
#define MMAPX_KMOD_PERIOD_MIN_NS	10000ULL
#define MMAPX_KMOD_PERIOD_MAX_NS	1000000000ULL
#define MMAPX_KMOD_FILL_BYTES_PER_NS	2
#define MMAPX_KMOD_PERIOD_FLOOR_NS(buffer_size)				\
	(MMAPX_KMOD_PERIOD_MIN_NS +					\
	 (__u64)(buffer_size) / MMAPX_KMOD_FILL_BYTES_PER_NS)

/*
 * A produced frame: this header at byte 0 of the buffer, then 64-bit words
 * MMAPX_KMOD_PATTERN_WORD(sequence, k) for k = 0, 1, ... up to the end of
 * the buffer. checksum is the low 32 bits XOR the high 32 bits of the
 * wrapping 64-bit sum of those words.
 */
struct mmapx_kmod_frame {
	__u64 sequence;
	__u32 index;
	__u32 checksum;
};

/* Word k of frame `sequence`, counted from the first word after the header. */
#define MMAPX_KMOD_PATTERN_WORD(sequence, k)				\
	((__u64)(sequence) ^ ((__u64)(k) * 0x9E3779B97F4A7C15ULL))

#endif /* _UAPI_MMAPX_KMOD_H */
