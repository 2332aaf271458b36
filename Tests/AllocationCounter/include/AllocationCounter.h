#ifndef BATON_ALLOCATION_COUNTER_H
#define BATON_ALLOCATION_COUNTER_H
/// Number of malloc/calloc/realloc/memalign calls in this process so far. Linking this
/// target into an executable interposes the allocator (as swift-nio's allocation tests do).
unsigned long baton_allocation_count(void);
#endif
