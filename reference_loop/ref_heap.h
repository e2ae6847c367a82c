/* ref_heap.h: the reference loop's timer queue, an intrusive 4-ary min-heap keyed by (deadline, seq). */
#ifndef LOOPCONF_REF_HEAP_H
#define LOOPCONF_REF_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value of ref_heap_node.index while the node is not in a heap. */
#define REF_HEAP_NONE SIZE_MAX

/* Embedded in each timer: where its entry sits in the heap array (REF_HEAP_NONE if absent),
 * and its start sequence, the second key, read only to break a tie between equal deadlines. */
struct ref_heap_node {
  size_t index;
  uint64_t seq; /* start order: breaks ties between equal deadlines */
};

/* One slot of the heap array: 16 bytes, so the four children of a slot fill exactly one
 * 64-byte cache line (the array is offset so that each group of four starts on a line). The
 * deadline is stored inline so sifting compares contiguous memory; the node is touched only
 * to update its index or, on equal deadlines, to read its seq. */
struct ref_heap_entry {
  int64_t deadline;           /* absolute, ns on CLOCK_MONOTONIC */
  struct ref_heap_node *node; /* the timer that owns this entry */
};

/* The heap. Zero-initialise it (or call ref_heap_init). Capacity is reserved ahead of time so
 * that push, remove and update never allocate. */
struct ref_heap {
  struct ref_heap_entry *entries; /* entries[0] is the root; points into `block` */
  void *block;                    /* the cache-line-aligned allocation */
  size_t len;
  size_t cap;
};

/* Make an empty heap with no storage. */
void ref_heap_init(struct ref_heap *heap);

/* Release the storage. The heap must not be used again except after ref_heap_init. */
void ref_heap_destroy(struct ref_heap *heap);

/* Make room for at least `cap` entries (never shrinks). Returns 0 or -ENOMEM (heap unchanged). */
int ref_heap_reserve(struct ref_heap *heap, size_t cap);

/* Insert `node` (not in any heap) with its key (seq is stored in node->seq). The caller
 * guarantees len < cap, so this never allocates and cannot fail. O(log n). */
void ref_heap_push(struct ref_heap *heap, struct ref_heap_node *node, int64_t deadline,
                   uint64_t seq);

/* Remove `node`, which must be in `heap`. O(log n). */
void ref_heap_remove(struct ref_heap *heap, struct ref_heap_node *node);

/* Change the key of `node`, which must be in `heap`, keeping the heap ordered (node->seq
 * becomes `seq`). O(log n). */
void ref_heap_update(struct ref_heap *heap, struct ref_heap_node *node, int64_t deadline,
                     uint64_t seq);

/* The smallest entry, or NULL if the heap is empty. O(1). */
static inline const struct ref_heap_entry *ref_heap_min(const struct ref_heap *heap) {
  return heap->len ? &heap->entries[0] : NULL;
}

/* Remove and return the node with the smallest key, or NULL if empty. O(log n). */
struct ref_heap_node *ref_heap_pop(struct ref_heap *heap);

/* Check the heap property and every node's back-index (for tests). O(n). */
bool ref_heap_valid(const struct ref_heap *heap);

#endif /* LOOPCONF_REF_HEAP_H */
