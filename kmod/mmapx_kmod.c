// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * mmapx_kmod - reference driver that gives user space direct access to
 * buffers allocated in the kernel, written to show how to do it safely.
 *
 * Each minor owns buffers of every supported cache mode, mapped eagerly
 * (remap_pfn_range) or lazily (a fault handler with vmf_insert_pfn), and a
 * producer that fills them like a DMA engine would. The user-space interface
 * (offset encoding, ioctls, errors) is documented in
 * include/mmapx/uapi/mmapx_kmod.h.
 */

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/kfifo.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/wait.h>
#ifdef CONFIG_X86
#include <asm/msr.h>
#include <asm/set_memory.h>
#endif

#include <mmapx/uapi/mmapx_kmod.h>

#define MMAPX_NAME		"mmapx"
#define MMAPX_MAX_MINORS	16
#define MMAPX_MAX_BUFFERS	64
/* Order 10 with 4 KiB pages: an order every kernel's page allocator grants. */
#define MMAPX_MAX_BUFFER_SIZE	(4UL << 20)
#define MMAPX_WINDOW_PAGES	(MMAPX_KMOD_WINDOW_SIZE >> PAGE_SHIFT)
/* Allocations whose size the module parameters choose: see mmapx_alloc_pages. */
#define MMAPX_GFP		(GFP_KERNEL | __GFP_NOWARN)

static unsigned int minors = 2;
module_param(minors, uint, 0444);
MODULE_PARM_DESC(minors, "number of devices /dev/mmapxN (1..16)");

static unsigned int buffers = 4;
module_param(buffers, uint, 0444);
MODULE_PARM_DESC(buffers, "buffers per cache mode and minor (1..64)");

static unsigned long buffer_size = 64 * 1024;
module_param(buffer_size, ulong, 0444);
MODULE_PARM_DESC(buffer_size, "bytes per buffer: a multiple of the page size, at most 4 MiB");

enum mmapx_state { MMAPX_FREE, MMAPX_FILLING, MMAPX_READY, MMAPX_HELD };

struct mmapx_minor;

/* One mappable object: a buffer, or the status page. */
struct mmapx_buffer {
	struct mmapx_minor *owner;
	struct page *page;	/* first of npages physically contiguous pages */
	unsigned long npages;
	u32 cache;
	u32 index;
	bool read_only;
	bool cache_set;		/* set_memory_*() succeeded: undo before free */
};

struct mmapx_minor {
	unsigned int minor;
	struct mmapx_kmod_geometry geometry;
	struct mmapx_buffer status;
	struct mmapx_buffer *buffers[MMAPX_KMOD_CACHE_MODES];
	atomic64_t faults;
	atomic64_t live_mappings;

	/*
	 * control serialises everything that starts or stops the producer or
	 * counts the minor's files: START, STOP, open and release. Only one
	 * caller at a time can then start or cancel the timer, so
	 * hrtimer_start() never meets a running callback (which would re-arm
	 * the timer under hrtimer_forward(), a WARNING).
	 */
	struct mutex control;
	unsigned int opens;	/* open files of this minor, under control */
	struct file *owner;	/* the file that started the producer, or NULL */

	/* The producer's ring; everything below is protected by lock. */
	spinlock_t lock;
	struct hrtimer timer;
	wait_queue_head_t wait;
	DECLARE_KFIFO_PTR(ready, struct mmapx_kmod_event);
	u8 *state;		/* enum mmapx_state per buffer of ring_cache */
	bool running;
	u32 ring_cache;
	u32 ring_pos;
	u64 period_ns;
	u64 sequence;
	u64 produced;
	u64 overruns;
	u64 handed_back;
};

static dev_t mmapx_devt;
static struct class *mmapx_class;
static struct cdev mmapx_cdev;
static struct mmapx_minor *mmapx_minors;

static u32 mmapx_cache_modes(void)
{
#ifdef CONFIG_X86
	return BIT(MMAPX_KMOD_CACHED) | BIT(MMAPX_KMOD_UNCACHED) |
	       BIT(MMAPX_KMOD_WRITE_COMBINING);
#else
	/* Elsewhere the kernel has no portable way to retype its own mapping. */
	return BIT(MMAPX_KMOD_CACHED);
#endif
}

static bool mmapx_cache_supported(u32 cache)
{
	return cache < MMAPX_KMOD_CACHE_MODES && (mmapx_cache_modes() & BIT(cache));
}

/* vm_flags became read-only in 6.3; this is the one place that writes them. */
static void mmapx_vm_flags_mod(struct vm_area_struct *vma, unsigned long set,
			       unsigned long clear)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/*
 * Gives the kernel's own mapping of a buffer its cache type, so that user
 * mappings with the same type never alias it with a different one.
 */
static int mmapx_set_cache(struct mmapx_buffer *buf)
{
#ifdef CONFIG_X86
	unsigned long addr = (unsigned long)page_address(buf->page);
	int ret = 0;

	if (buf->cache == MMAPX_KMOD_UNCACHED)
		ret = set_memory_uc(addr, buf->npages);
	else if (buf->cache == MMAPX_KMOD_WRITE_COMBINING)
		ret = set_memory_wc(addr, buf->npages);
	if (ret)
		return ret;
	buf->cache_set = buf->cache != MMAPX_KMOD_CACHED;
#endif
	return 0;
}

static void mmapx_free_pages(struct mmapx_buffer *buf)
{
	unsigned long i;

	if (!buf->page)
		return;
#ifdef CONFIG_X86
	if (buf->cache_set)
		set_memory_wb((unsigned long)page_address(buf->page), buf->npages);
#endif
	for (i = 0; i < buf->npages; i++)
		__free_page(buf->page + i);
	buf->page = NULL;
}

/*
 * Physically contiguous, below 4 GiB for devices with a 32-bit DMA mask, and
 * zeroed before anyone can map it. split_page() gives every page its own
 * reference count, so the pages past npages can be returned at once.
 * Parameters size these allocations, so failing is expected and quiet
 * (__GFP_NOWARN): mmapx_init() logs one line instead of the allocator's
 * warning and call trace.
 */
static int mmapx_alloc_pages(struct mmapx_buffer *buf, unsigned long npages)
{
	unsigned int order = get_order(npages << PAGE_SHIFT);
	struct page *page;
	unsigned long i;

	page = alloc_pages(MMAPX_GFP | __GFP_ZERO | GFP_DMA32, order);
	if (!page)
		return -ENOMEM;
	split_page(page, order);
	for (i = npages; i < (1UL << order); i++)
		__free_page(page + i);
	buf->page = page;
	buf->npages = npages;
	return mmapx_set_cache(buf);
}

static void mmapx_free_minor(struct mmapx_minor *m)
{
	unsigned int c, i;

	for (c = 0; c < MMAPX_KMOD_CACHE_MODES; c++) {
		if (!m->buffers[c])
			continue;
		for (i = 0; i < buffers; i++)
			mmapx_free_pages(&m->buffers[c][i]);
		kfree(m->buffers[c]);
		m->buffers[c] = NULL;
	}
	mmapx_free_pages(&m->status);
	kfree(m->state);
	kfifo_free(&m->ready);
}

static enum hrtimer_restart mmapx_tick(struct hrtimer *timer);

static int mmapx_setup_minor(struct mmapx_minor *m, unsigned int minor)
{
	unsigned long npages = buffer_size >> PAGE_SHIFT;
	struct mmapx_kmod_geometry *geometry = &m->geometry;
	unsigned int c, i;
	int ret;

	m->minor = minor;
	mutex_init(&m->control);
	spin_lock_init(&m->lock);
	init_waitqueue_head(&m->wait);
	hrtimer_init(&m->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	m->timer.function = mmapx_tick;

	geometry->abi_version = MMAPX_KMOD_ABI_VERSION;
	geometry->minor = minor;
	geometry->page_size = PAGE_SIZE;
	geometry->buffer_count = buffers;
	geometry->buffer_size = buffer_size;
	geometry->cache_modes = mmapx_cache_modes();
	geometry->methods = BIT(MMAPX_KMOD_EAGER) | BIT(MMAPX_KMOD_LAZY);

	m->state = kcalloc(buffers, sizeof(*m->state), MMAPX_GFP);
	if (!m->state)
		return -ENOMEM;
	/* A kfifo holds a power of two >= 2 entries; one buffer needs 2. */
	ret = kfifo_alloc(&m->ready, max_t(unsigned long, 2, roundup_pow_of_two(buffers)),
			  MMAPX_GFP);
	if (ret)
		return ret;

	m->status.owner = m;
	m->status.read_only = true;
	ret = mmapx_alloc_pages(&m->status, 1);
	if (ret)
		return ret;
	memcpy(page_address(m->status.page), geometry, sizeof(*geometry));

	for (c = 0; c < MMAPX_KMOD_CACHE_MODES; c++) {
		if (!mmapx_cache_supported(c))
			continue;
		m->buffers[c] = kcalloc(buffers, sizeof(*m->buffers[c]), MMAPX_GFP);
		if (!m->buffers[c])
			return -ENOMEM;
		for (i = 0; i < buffers; i++) {
			struct mmapx_buffer *buf = &m->buffers[c][i];

			buf->owner = m;
			buf->cache = c;
			buf->index = i;
			ret = mmapx_alloc_pages(buf, npages);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* The producer. */

static void mmapx_fill(struct mmapx_buffer *buf, u64 sequence)
{
	struct mmapx_kmod_frame *frame = page_address(buf->page);
	u64 *words = (u64 *)(frame + 1);
	size_t count = ((buf->npages << PAGE_SHIFT) - sizeof(*frame)) / sizeof(u64);
	u64 sum = 0;
	size_t k;

	for (k = 0; k < count; k++) {
		u64 word = MMAPX_KMOD_PATTERN_WORD(sequence, k);

		words[k] = word;
		sum += word;
	}
	frame->sequence = sequence;
	frame->index = buf->index;
	frame->checksum = lower_32_bits(sum) ^ upper_32_bits(sum);
}

/*
 * The producer waits at least this many fill times between buffers, so that
 * memory slower than the period allows (uncached RAM) cannot hold the CPU
 * more than 1 / (1 + MMAPX_IDLE_PER_FILL) of the time.
 */
#define MMAPX_IDLE_PER_FILL	4

static enum hrtimer_restart mmapx_tick(struct hrtimer *timer)
{
	struct mmapx_minor *m = container_of(timer, struct mmapx_minor, timer);
	struct mmapx_kmod_event event = { 0 };
	u64 interval = READ_ONCE(m->period_ns);
	struct mmapx_buffer *buf;
	u64 started;
	u32 pos;

	spin_lock(&m->lock);
	if (!m->running) {
		spin_unlock(&m->lock);
		return HRTIMER_NORESTART;
	}
	event.sequence = m->sequence++;
	pos = m->ring_pos;
	m->ring_pos = (pos + 1) % buffers;
	if (m->state[pos] != MMAPX_FREE) {
		/* The consumer still has it: this frame is lost, and says so. */
		m->overruns++;
		spin_unlock(&m->lock);
		goto again;
	}
	m->state[pos] = MMAPX_FILLING;
	buf = &m->buffers[m->ring_cache][pos];
	spin_unlock(&m->lock);

	started = ktime_get_ns();
	mmapx_fill(buf, event.sequence);
	interval = max(interval, MMAPX_IDLE_PER_FILL * (ktime_get_ns() - started));

	event.index = pos;
	spin_lock(&m->lock);
	m->state[pos] = MMAPX_READY;
	kfifo_put(&m->ready, event);
	m->produced++;
	spin_unlock(&m->lock);
	wake_up_interruptible(&m->wait);
again:
	hrtimer_forward_now(timer, ns_to_ktime(interval));
	return HRTIMER_RESTART;
}

static void mmapx_reset_ring(struct mmapx_minor *m)
{
	spin_lock_bh(&m->lock);
	kfifo_reset(&m->ready);
	memset(m->state, MMAPX_FREE, buffers);
	m->ring_pos = 0;
	spin_unlock_bh(&m->lock);
}

/* The floor (see the UAPI header) keeps the producer from holding a CPU. */
static bool mmapx_period_valid(u64 period_ns)
{
	return period_ns >= MMAPX_KMOD_PERIOD_FLOOR_NS(buffer_size) &&
	       period_ns <= MMAPX_KMOD_PERIOD_MAX_NS;
}

/*
 * Stops the producer and empties the ring: ready events are dropped, held
 * buffers become free. The caller holds control, so nobody restarts the
 * timer between the cancel and the reset.
 */
static void mmapx_stop_locked(struct mmapx_minor *m)
{
	lockdep_assert_held(&m->control);
	spin_lock_bh(&m->lock);
	m->running = false;
	spin_unlock_bh(&m->lock);
	hrtimer_cancel(&m->timer);
	mmapx_reset_ring(m);
	m->owner = NULL;
}

static void mmapx_stop(struct mmapx_minor *m)
{
	mutex_lock(&m->control);
	mmapx_stop_locked(m);
	mutex_unlock(&m->control);
}

/*
 * (Re)starts the producer for file: it stops first, so a START that
 * changes the cache mode starts from an empty ring of the new buffers.
 */
static int mmapx_start(struct mmapx_minor *m, struct file *file,
		       const struct mmapx_kmod_producer *p)
{
	if (p->reserved || !mmapx_cache_supported(p->cache) ||
	    !mmapx_period_valid(p->period_ns))
		return -EINVAL;
	mutex_lock(&m->control);
	mmapx_stop_locked(m);
	spin_lock_bh(&m->lock);
	m->ring_cache = p->cache;
	WRITE_ONCE(m->period_ns, p->period_ns);
	m->running = true;
	spin_unlock_bh(&m->lock);
	m->owner = file;
	hrtimer_start(&m->timer, ns_to_ktime(p->period_ns), HRTIMER_MODE_REL_SOFT);
	mutex_unlock(&m->control);
	return 0;
}

static int mmapx_hand_back(struct mmapx_minor *m, u32 index)
{
	int ret = -EINVAL;

	spin_lock_bh(&m->lock);
	if (index < buffers && m->state[index] == MMAPX_HELD) {
		m->state[index] = MMAPX_FREE;
		m->handed_back++;
		ret = 0;
	}
	spin_unlock_bh(&m->lock);
	return ret;
}

/* mmap. */

static void mmapx_vm_open(struct vm_area_struct *vma)
{
	struct mmapx_buffer *buf = vma->vm_private_data;

	atomic64_inc(&buf->owner->live_mappings);
}

static void mmapx_vm_close(struct vm_area_struct *vma)
{
	struct mmapx_buffer *buf = vma->vm_private_data;

	atomic64_dec(&buf->owner->live_mappings);
}

static vm_fault_t mmapx_vm_fault(struct vm_fault *vmf)
{
	struct mmapx_buffer *buf = vmf->vma->vm_private_data;
	unsigned long page = vmf->pgoff & (MMAPX_WINDOW_PAGES - 1);
	vm_fault_t ret;

	/* mmap checked the range; a fault outside it would be a kernel bug. */
	if (page >= buf->npages)
		return VM_FAULT_SIGBUS;
	/* Takes the cache type from the page's memory type (PAT). */
	ret = vmf_insert_pfn(vmf->vma, vmf->address, page_to_pfn(buf->page) + page);
	if (ret == VM_FAULT_NOPAGE)
		atomic64_inc(&buf->owner->faults);
	return ret;
}

static const struct vm_operations_struct mmapx_eager_ops = {
	.open = mmapx_vm_open,
	.close = mmapx_vm_close,
};

static const struct vm_operations_struct mmapx_lazy_ops = {
	.open = mmapx_vm_open,
	.close = mmapx_vm_close,
	.fault = mmapx_vm_fault,
};

/* Decodes the window part of an mmap offset; NULL if it selects nothing. */
static struct mmapx_buffer *mmapx_select(struct mmapx_minor *m,
					 unsigned long window, bool *lazy)
{
	const unsigned long shift = MMAPX_KMOD_WINDOW_SHIFT;
	unsigned long index, cache;

	if (window >> (MMAPX_KMOD_OFFSET_BITS - shift))
		return NULL;
	if (window == MMAPX_KMOD_STATUS_OFFSET >> shift) {
		*lazy = false;
		return &m->status;
	}
	if (window & (MMAPX_KMOD_STATUS_OFFSET >> shift))
		return NULL;
	*lazy = window & (1UL << (MMAPX_KMOD_METHOD_SHIFT - shift));
	cache = (window >> (MMAPX_KMOD_CACHE_SHIFT - shift)) & 3;
	index = window & ((1UL << MMAPX_KMOD_INDEX_BITS) - 1);
	if (!mmapx_cache_supported(cache) || index >= buffers)
		return NULL;
	return &m->buffers[cache][index];
}

static pgprot_t mmapx_prot(u32 cache, pgprot_t prot)
{
	if (cache == MMAPX_KMOD_UNCACHED)
		return pgprot_noncached(prot);
	if (cache == MMAPX_KMOD_WRITE_COMBINING)
		return pgprot_writecombine(prot);
	return prot;
}

static int mmapx_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mmapx_minor *m = file->private_data;
	const unsigned long window_shift = MMAPX_KMOD_WINDOW_SHIFT - PAGE_SHIFT;
	unsigned long first = vma->vm_pgoff & (MMAPX_WINDOW_PAGES - 1);
	unsigned long clear = VM_MAYEXEC;
	struct mmapx_buffer *buf;
	bool lazy;
	int ret;

	/* vmf_insert_pfn() on a private writable PFN mapping would BUG. */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	buf = mmapx_select(m, vma->vm_pgoff >> window_shift, &lazy);
	if (!buf)
		return -EINVAL;
	/* In pages, so nothing can overflow; never compare off + len. */
	if (first >= buf->npages || vma_pages(vma) > buf->npages - first)
		return -EINVAL;
	if (buf->read_only) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		clear |= VM_MAYWRITE;
	}
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;

	vma->vm_page_prot = mmapx_prot(buf->cache, vma->vm_page_prot);
	mmapx_vm_flags_mod(vma, VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP,
			   clear);
	if (lazy) {
		vma->vm_ops = &mmapx_lazy_ops;
	} else {
		ret = remap_pfn_range(vma, vma->vm_start,
				      page_to_pfn(buf->page) + first,
				      vma->vm_end - vma->vm_start,
				      vma->vm_page_prot);
		/* .close is not called when mmap fails: no reference taken. */
		if (ret)
			return ret;
		vma->vm_ops = &mmapx_eager_ops;
	}
	vma->vm_private_data = buf;
	mmapx_vm_open(vma);
	return 0;
}

/* ioctl. */

#ifdef CONFIG_X86
/* The PAT memory type that a page-table entry's PWT/PCD/PAT bits select. */
static u32 mmapx_pat_type(unsigned long flags, unsigned long pat_bit)
{
	unsigned int slot = ((flags & _PAGE_PWT) ? 1 : 0) |
			    ((flags & _PAGE_PCD) ? 2 : 0) |
			    ((flags & pat_bit) ? 4 : 0);
	u64 pat;

	rdmsrl(MSR_IA32_CR_PAT, pat);
	return (pat >> (8 * slot)) & 7;
}

/* Copies the entry that maps address in mm; EFAULT if nothing maps it yet. */
static int mmapx_user_pte(struct mm_struct *mm, unsigned long address, pte_t *pte)
{
	spinlock_t *ptl;	/* the page-table lock follow_pte() took */
	pte_t *ptep;

	if (follow_pte(mm, address, &ptep, &ptl))
		return -EFAULT;
	/* follow_pte() has no lock annotation: tell sparse what it did. */
	__acquire(ptl);
	*pte = *ptep;
	pte_unmap_unlock(ptep, ptl);
	return 0;
}

static bool mmapx_is_own_vma(struct mmapx_minor *m, struct vm_area_struct *vma)
{
	const struct mmapx_buffer *buf;

	if (!vma || (vma->vm_ops != &mmapx_eager_ops && vma->vm_ops != &mmapx_lazy_ops))
		return false;
	buf = vma->vm_private_data;
	return buf->owner == m;
}

static int mmapx_memtype(struct mmapx_minor *m, struct mmapx_kmod_memtype *mt)
{
	struct mm_struct *mm = current->mm;
	unsigned int level;
	pte_t *kpte;
	pte_t pte;
	int ret = -EINVAL;

	mmap_read_lock(mm);
	if (mmapx_is_own_vma(m, vma_lookup(mm, mt->address)))
		ret = mmapx_user_pte(mm, mt->address, &pte);
	mmap_read_unlock(mm);
	if (ret)
		return ret;

	mt->user_type = mmapx_pat_type(pte_flags(pte), _PAGE_PAT);
	/* Where a page lives is what BUS_ADDRESS guards: the same rule here. */
	mt->physical = capable(CAP_SYS_ADMIN) ? PFN_PHYS(pte_pfn(pte)) : 0;
	kpte = lookup_address((unsigned long)pfn_to_kaddr(pte_pfn(pte)), &level);
	if (!kpte)
		return -EFAULT;
	mt->kernel_type = mmapx_pat_type(pte_flags(*kpte),
					 level == PG_LEVEL_4K ? _PAGE_PAT : _PAGE_PAT_LARGE);
	return 0;
}
#else
static int mmapx_memtype(struct mmapx_minor *m, struct mmapx_kmod_memtype *mt)
{
	return -EOPNOTSUPP;
}
#endif

static int mmapx_bus_address(struct mmapx_minor *m,
			     struct mmapx_kmod_bus_address *ba)
{
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	if (!mmapx_cache_supported(ba->cache) || ba->index >= buffers)
		return -EINVAL;
	/* Without an IOMMU translating for the device, bus == physical. */
	ba->address = page_to_phys(m->buffers[ba->cache][ba->index].page);
	return 0;
}

static void mmapx_get_stats(struct mmapx_minor *m, struct mmapx_kmod_stats *s)
{
	s->faults = atomic64_read(&m->faults);
	s->live_mappings = atomic64_read(&m->live_mappings);
	spin_lock_bh(&m->lock);
	s->produced = m->produced;
	s->overruns = m->overruns;
	s->handed_back = m->handed_back;
	s->sequence = m->sequence;
	spin_unlock_bh(&m->lock);
}

static long mmapx_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mmapx_minor *m = file->private_data;
	void __user *uarg = (void __user *)arg;
	union {
		struct mmapx_kmod_stats stats;
		struct mmapx_kmod_producer producer;
		struct mmapx_kmod_bus_address bus;
		struct mmapx_kmod_memtype memtype;
		u64 period;
		u32 index;
	} u;
	int ret;

	memset(&u, 0, sizeof(u));
	switch (cmd) {
	case MMAPX_KMOD_IOC_GEOMETRY:
		return copy_to_user(uarg, &m->geometry, sizeof(m->geometry)) ?
		       -EFAULT : 0;
	case MMAPX_KMOD_IOC_STATS:
		mmapx_get_stats(m, &u.stats);
		return copy_to_user(uarg, &u.stats, sizeof(u.stats)) ? -EFAULT : 0;
	case MMAPX_KMOD_IOC_START:
		if (copy_from_user(&u.producer, uarg, sizeof(u.producer)))
			return -EFAULT;
		return mmapx_start(m, file, &u.producer);
	case MMAPX_KMOD_IOC_STOP:
		mmapx_stop(m);
		return 0;
	case MMAPX_KMOD_IOC_SET_PERIOD:
		if (get_user(u.period, (u64 __user *)uarg))
			return -EFAULT;
		if (!mmapx_period_valid(u.period))
			return -EINVAL;
		WRITE_ONCE(m->period_ns, u.period);
		return 0;
	case MMAPX_KMOD_IOC_RELEASE:
		if (get_user(u.index, (u32 __user *)uarg))
			return -EFAULT;
		return mmapx_hand_back(m, u.index);
	case MMAPX_KMOD_IOC_BUS_ADDRESS:
		if (copy_from_user(&u.bus, uarg, sizeof(u.bus)))
			return -EFAULT;
		ret = mmapx_bus_address(m, &u.bus);
		if (ret)
			return ret;
		return copy_to_user(uarg, &u.bus, sizeof(u.bus)) ? -EFAULT : 0;
	case MMAPX_KMOD_IOC_MEMTYPE:
		if (copy_from_user(&u.memtype, uarg, sizeof(u.memtype)))
			return -EFAULT;
		ret = mmapx_memtype(m, &u.memtype);
		if (ret)
			return ret;
		return copy_to_user(uarg, &u.memtype, sizeof(u.memtype)) ?
		       -EFAULT : 0;
	default:
		return -ENOTTY;
	}
}

/* read, write, poll: the consumer's side of the producer. */

static ssize_t mmapx_read(struct file *file, char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	struct mmapx_minor *m = file->private_data;
	struct mmapx_kmod_event event;
	int ret;

	if (count < sizeof(event))
		return -EINVAL;
	for (;;) {
		spin_lock_bh(&m->lock);
		if (kfifo_get(&m->ready, &event)) {
			m->state[event.index] = MMAPX_HELD;
			spin_unlock_bh(&m->lock);
			break;
		}
		spin_unlock_bh(&m->lock);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(m->wait, !kfifo_is_empty(&m->ready));
		if (ret)
			return ret;
	}
	if (copy_to_user(ubuf, &event, sizeof(event))) {
		/* Nobody learnt of the buffer: give it back to the producer. */
		mmapx_hand_back(m, event.index);
		return -EFAULT;
	}
	return sizeof(event);
}

static ssize_t mmapx_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	struct mmapx_minor *m = file->private_data;
	u32 index;
	int ret;

	if (count != sizeof(index))
		return -EINVAL;
	if (get_user(index, (const u32 __user *)ubuf))
		return -EFAULT;
	ret = mmapx_hand_back(m, index);
	return ret ? ret : sizeof(index);
}

static __poll_t mmapx_poll(struct file *file, struct poll_table_struct *wait)
{
	struct mmapx_minor *m = file->private_data;
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;

	poll_wait(file, &m->wait, wait);
	if (!kfifo_is_empty(&m->ready))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/*
 * Every buffer zeroed, for a minor that nobody uses any more: what one user
 * left in it never reaches the next. The kernel's mapping has the buffer's
 * cache type, so memset() through it never aliases another type.
 */
static void mmapx_zero_buffers(struct mmapx_minor *m)
{
	unsigned int c, i;

	for (c = 0; c < MMAPX_KMOD_CACHE_MODES; c++) {
		if (!m->buffers[c])
			continue;
		for (i = 0; i < buffers; i++) {
			struct mmapx_buffer *buf = &m->buffers[c][i];

			memset(page_address(buf->page), 0, buf->npages << PAGE_SHIFT);
		}
	}
}

static int mmapx_open(struct inode *inode, struct file *file)
{
	struct mmapx_minor *m = &mmapx_minors[iminor(inode) - MINOR(mmapx_devt)];

	file->private_data = m;
	nonseekable_open(inode, file);	/* cannot fail */
	mutex_lock(&m->control);
	/*
	 * Every mapping holds its file, so no open file means no mapping
	 * either: nobody can see the buffers while they are zeroed.
	 */
	if (m->opens++ == 0)
		mmapx_zero_buffers(m);
	mutex_unlock(&m->control);
	return 0;
}

static int mmapx_release(struct inode *inode, struct file *file)
{
	struct mmapx_minor *m = file->private_data;

	/* The producer belongs to the file that started it, and ends with it. */
	mutex_lock(&m->control);
	if (m->owner == file)
		mmapx_stop_locked(m);
	m->opens--;
	mutex_unlock(&m->control);
	return 0;
}

static const struct file_operations mmapx_fops = {
	.owner = THIS_MODULE,
	.open = mmapx_open,
	.release = mmapx_release,
	.read = mmapx_read,
	.write = mmapx_write,
	.poll = mmapx_poll,
	.mmap = mmapx_mmap,
	.unlocked_ioctl = mmapx_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

/* Module setup. */

static int mmapx_check_params(void)
{
	if (minors < 1 || minors > MMAPX_MAX_MINORS) {
		pr_err("mmapx: minors=%u: must be 1..%u\n", minors, MMAPX_MAX_MINORS);
		return -EINVAL;
	}
	if (buffers < 1 || buffers > MMAPX_MAX_BUFFERS) {
		pr_err("mmapx: buffers=%u: must be 1..%u\n", buffers, MMAPX_MAX_BUFFERS);
		return -EINVAL;
	}
	if (buffer_size < PAGE_SIZE || buffer_size > MMAPX_MAX_BUFFER_SIZE ||
	    !PAGE_ALIGNED(buffer_size)) {
		pr_err("mmapx: buffer_size=%lu: must be a multiple of %lu, at most %lu\n",
		       buffer_size, PAGE_SIZE, MMAPX_MAX_BUFFER_SIZE);
		return -EINVAL;
	}
	return 0;
}

/* Undoes the first set_up minors' setup and the first created devices. */
static void mmapx_teardown(unsigned int set_up, unsigned int created)
{
	unsigned int i;

	for (i = 0; i < created; i++)
		device_destroy(mmapx_class, MKDEV(MAJOR(mmapx_devt), MINOR(mmapx_devt) + i));
	for (i = 0; i < set_up; i++) {
		hrtimer_cancel(&mmapx_minors[i].timer);
		mmapx_free_minor(&mmapx_minors[i]);
		mutex_destroy(&mmapx_minors[i].control);
	}
	kfree(mmapx_minors);
}

static int __init mmapx_init(void)
{
	unsigned int set_up = 0, created = 0;
	struct device *dev;
	int ret;

	ret = mmapx_check_params();
	if (ret)
		return ret;
	ret = alloc_chrdev_region(&mmapx_devt, 0, minors, MMAPX_NAME);
	if (ret)
		return ret;
#if KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
	mmapx_class = class_create(MMAPX_NAME);
#else
	mmapx_class = class_create(THIS_MODULE, MMAPX_NAME);
#endif
	if (IS_ERR(mmapx_class)) {
		ret = PTR_ERR(mmapx_class);
		goto out_region;
	}
	mmapx_minors = kcalloc(minors, sizeof(*mmapx_minors), MMAPX_GFP);
	if (!mmapx_minors) {
		ret = -ENOMEM;
		goto out_class;
	}
	while (set_up < minors) {
		/* A minor that fails half-way is torn down with the others. */
		ret = mmapx_setup_minor(&mmapx_minors[set_up], set_up);
		set_up++;
		if (ret) {
			pr_err("mmapx: minors=%u buffers=%u buffer_size=%lu: minor %u: cannot allocate its buffers: %pe\n",
			       minors, buffers, buffer_size, set_up - 1, ERR_PTR(ret));
			goto out_minors;
		}
	}
	cdev_init(&mmapx_cdev, &mmapx_fops);
	mmapx_cdev.owner = THIS_MODULE;
	ret = cdev_add(&mmapx_cdev, mmapx_devt, minors);
	if (ret)
		goto out_minors;
	for (; created < minors; created++) {
		dev = device_create(mmapx_class, NULL,
				    MKDEV(MAJOR(mmapx_devt), MINOR(mmapx_devt) + created),
				    NULL, MMAPX_NAME "%u", created);
		if (IS_ERR(dev)) {
			ret = PTR_ERR(dev);
			goto out_cdev;
		}
	}
	return 0;

out_cdev:
	cdev_del(&mmapx_cdev);
out_minors:
	mmapx_teardown(set_up, created);
out_class:
	class_destroy(mmapx_class);
out_region:
	unregister_chrdev_region(mmapx_devt, minors);
	return ret;
}

static void __exit mmapx_exit(void)
{
	cdev_del(&mmapx_cdev);
	mmapx_teardown(minors, minors);
	class_destroy(mmapx_class);
	unregister_chrdev_region(mmapx_devt, minors);
}

module_init(mmapx_init);
module_exit(mmapx_exit);

MODULE_DESCRIPTION("mmapx reference driver: kernel buffers mapped into user space");
MODULE_AUTHOR("mmapx developers");
MODULE_LICENSE("Dual MIT/GPL");
