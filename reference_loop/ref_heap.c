/* ref_heap.c: 4-ary min-heap of timer entries ordered by deadline, then by start sequence. */
#include "ref_heap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Arity 4: half the depth of a binary heap. With 16-byte entries and the array offset by
 * REF_HEAP_PAD entries from a 64-byte boundary, the children 4i+1..4i+4 of slot i sit in one
 * cache line, so each level of a sift-down costs one line of the array. */
#define REF_HEAP_ARITY 4
#define REF_HEAP_LINE 64
#define REF_HEAP_PAD (REF_HEAP_LINE / sizeof(struct ref_heap_entry) - 1)

_Static_assert(sizeof(struct ref_heap_entry) * REF_HEAP_ARITY == REF_HEAP_LINE,
               "four heap entries must fill one cache line");

/* (deadline, seq) order; seq is read through the node only when the deadlines are equal. */
static inline bool entry_less(const struct ref_heap_entry *a, const struct ref_heap_entry *b) {
  return a->deadline < b->deadline || (a->deadline == b->deadline && a->node->seq < b->node->seq);
}

/* Put `e` at slot `i` and record the position in its node. */
static inline void place(struct ref_heap *heap, size_t i, struct ref_heap_entry e) {
  heap->entries[i] = e;
  e.node->index = i;
}

/* Move the entry `e` (logically at slot i) up towards the root until its parent is smaller. */
static inline __attribute__((always_inline)) void sift_up(struct ref_heap *heap, size_t i,
                                                          struct ref_heap_entry e) {
  while (i > 0) {
    size_t parent = (i - 1) / REF_HEAP_ARITY;
    if (!entry_less(&e, &heap->entries[parent])) break;
    place(heap, i, heap->entries[parent]);
    i = parent;
  }
  place(heap, i, e);
}

/* Move the entry `e` (logically at slot i) down until no child is smaller. */
static void sift_down(struct ref_heap *heap, size_t i, struct ref_heap_entry e) {
  const struct ref_heap_entry *ent = heap->entries;
  size_t len = heap->len;
  for (;;) {
    size_t first = i * REF_HEAP_ARITY + 1;
    if (first >= len) break;
    size_t best = first;
    if (first + REF_HEAP_ARITY <= len) { /* all four children: the common case, unrolled */
      size_t b1 = entry_less(&ent[first + 1], &ent[first]) ? first + 1 : first;
      size_t b2 = entry_less(&ent[first + 3], &ent[first + 2]) ? first + 3 : first + 2;
      best = entry_less(&ent[b2], &ent[b1]) ? b2 : b1;
    } else {
      for (size_t c = first + 1; c < len; c++)
        if (entry_less(&ent[c], &ent[best])) best = c;
    }
    if (!entry_less(&ent[best], &e)) break;
    place(heap, i, ent[best]);
    i = best;
  }
  place(heap, i, e);
}

/* Put `e` into slot i, which currently holds a stale entry, moving whichever way it must. */
static void fix_at(struct ref_heap *heap, size_t i, struct ref_heap_entry e) {
  if (i > 0 && entry_less(&e, &heap->entries[(i - 1) / REF_HEAP_ARITY])) sift_up(heap, i, e);
  else sift_down(heap, i, e);
}

void ref_heap_init(struct ref_heap *heap) {
  heap->entries = NULL;
  heap->block = NULL;
  heap->len = 0;
  heap->cap = 0;
}

void ref_heap_destroy(struct ref_heap *heap) {
  free(heap->block);
  ref_heap_init(heap);
}

int ref_heap_reserve(struct ref_heap *heap, size_t cap) {
  if (cap <= heap->cap) return 0;
  size_t ncap = heap->cap ? heap->cap : 16;
  while (ncap < cap) {
    if (ncap > SIZE_MAX / 4 / sizeof(struct ref_heap_entry)) return -ENOMEM;
    ncap *= 2;
  }
  /* ncap is a power of two >= 16, so (ncap + PAD) entries round up to whole lines. */
  size_t bytes = (ncap + REF_HEAP_PAD) * sizeof(struct ref_heap_entry);
  bytes = (bytes + REF_HEAP_LINE - 1) / REF_HEAP_LINE * REF_HEAP_LINE;
  void *block = aligned_alloc(REF_HEAP_LINE, bytes);
  if (!block) return -ENOMEM;
  struct ref_heap_entry *entries = (struct ref_heap_entry *)block + REF_HEAP_PAD;
  if (heap->len) memcpy(entries, heap->entries, heap->len * sizeof *entries);
  free(heap->block);
  heap->block = block;
  heap->entries = entries;
  heap->cap = ncap;
  return 0;
}

void ref_heap_push(struct ref_heap *heap, struct ref_heap_node *node, int64_t deadline,
                   uint64_t seq) {
  node->seq = seq;
  struct ref_heap_entry e = {deadline, node};
  sift_up(heap, heap->len++, e);
}

void ref_heap_remove(struct ref_heap *heap, struct ref_heap_node *node) {
  size_t i = node->index;
  node->index = REF_HEAP_NONE;
  struct ref_heap_entry last = heap->entries[--heap->len];
  if (i != heap->len) /* the last entry fills the hole */
    fix_at(heap, i, last);
}

void ref_heap_update(struct ref_heap *heap, struct ref_heap_node *node, int64_t deadline,
                     uint64_t seq) {
  node->seq = seq;
  struct ref_heap_entry e = {deadline, node};
  fix_at(heap, node->index, e);
}

/* Bottom-up removal of the root (Floyd): the hole at the root descends along the smallest
 * children to a leaf, three comparisons per level among four children, and the last entry then
 * fills it and sifts up. The last entry is a leaf, so it nearly always belongs near the bottom:
 * this saves the comparison with it at every level that a plain sift-down makes (a quarter of
 * the comparisons of a pop). */
struct ref_heap_node *ref_heap_pop(struct ref_heap *heap) {
  if (heap->len == 0) return NULL;
  struct ref_heap_entry *ent = heap->entries;
  struct ref_heap_node *top = ent[0].node;
  top->index = REF_HEAP_NONE;
  size_t len = --heap->len;
  if (len == 0) return top;
  struct ref_heap_entry last = ent[len];
  size_t i = 0, first = 1;
  while (first + REF_HEAP_ARITY <= len) { /* all four children: one bound check per level */
    size_t b1 = entry_less(&ent[first + 1], &ent[first]) ? first + 1 : first;
    size_t b2 = entry_less(&ent[first + 3], &ent[first + 2]) ? first + 3 : first + 2;
    size_t best = entry_less(&ent[b2], &ent[b1]) ? b2 : b1;
    place(heap, i, ent[best]);
    i = best;
    first = i * REF_HEAP_ARITY + 1;
  }
  if (first < len) { /* one to three children, all leaves: the last level */
    size_t best = first;
    for (size_t c = first + 1; c < len; c++)
      if (entry_less(&ent[c], &ent[best])) best = c;
    place(heap, i, ent[best]);
    i = best;
  }
  sift_up(heap, i, last);
  return top;
}

bool ref_heap_valid(const struct ref_heap *heap) {
  if (heap->len > heap->cap) return false;
  for (size_t i = 0; i < heap->len; i++) {
    if (heap->entries[i].node == NULL || heap->entries[i].node->index != i) return false;
    if (i > 0 && entry_less(&heap->entries[i], &heap->entries[(i - 1) / REF_HEAP_ARITY]))
      return false;
  }
  return true;
}
