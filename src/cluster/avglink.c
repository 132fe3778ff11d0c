/* avglink.c -- average linkage along a candidate graph, with cannot-link.
 *
 * A cluster is its sum vector S and size m: for unit vectors the average
 * cosine distance of A and B is 1 - <S_A, S_B> / (m_A m_B), exactly, so
 * merging two clusters is adding their sums and no distance matrix exists.
 *
 * Greedy merging by a min-heap holding one entry per cluster: its nearest
 * allowed neighbour (distance, owner, partner, owner's entry version,
 * partner's sum version). A popped entry whose partner changed since is
 * recomputed and pushed again; a valid one is the global minimum pair:
 * for the closest pair (a, b), whichever changed last scanned the other in
 * its current state, so its entry key is <= d(a, b), and valid entries
 * hold true distances. A merge keeps the smaller id and pushes only the
 * new cluster's entry, so a big cluster absorbing faces one at a time
 * does not flood the heap with an entry per neighbour. Neighbour lists
 * hold ids that may have been merged away since; find() maps them.
 *
 * Cannot-link: each cluster carries its sorted distinct group ids; a pair
 * sharing a group is never pushed. Groups only grow under merging, so a
 * pair that conflicts once conflicts forever; the constrained distance
 * (infinite on conflict) stays reducible and greedy order stays that of
 * average linkage.
 */
#include "cluster_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    float d;
    int32_t a, b;
    uint32_t va, vb;
} entry;

typedef struct {
    entry *e;
    size_t len, cap;
} heap;

/* Ties by the unordered pair (smaller id first), as a scan over a < b. */
static int entry_less(const entry *x, const entry *y) {
    if (x->d != y->d) return x->d < y->d;
    int32_t xl = x->a < x->b ? x->a : x->b, yl = y->a < y->b ? y->a : y->b;
    if (xl != yl) return xl < yl;
    int32_t xh = x->a < x->b ? x->b : x->a, yh = y->a < y->b ? y->b : y->a;
    return xh < yh;
}

static int heap_push(heap *h, entry v) {
    if (h->len == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 1024;
        entry *ne = ut_realloc(h->e, nc * sizeof *ne);
        if (!ne) return ut_fail(UT_ENOMEM, "out of memory for the merge heap");
        h->e = ne;
        h->cap = nc;
    }
    size_t p = h->len++;
    while (p > 0) {
        size_t q = (p - 1) / 2;
        if (!entry_less(&v, &h->e[q])) break;
        h->e[p] = h->e[q];
        p = q;
    }
    h->e[p] = v;
    return UT_OK;
}

static entry heap_pop(heap *h) {
    entry top = h->e[0], v = h->e[--h->len];
    size_t p = 0;
    for (;;) {
        size_t l = 2 * p + 1, r = l + 1, m = p;
        const entry *mv = &v;
        if (l < h->len && entry_less(&h->e[l], mv)) m = l, mv = &h->e[l];
        if (r < h->len && entry_less(&h->e[r], mv)) m = r;
        if (m == p) break;
        h->e[p] = h->e[m];
        p = m;
    }
    if (h->len) h->e[p] = v;
    return top;
}

/* A list of int32 that either points into shared storage or is owned. */
typedef struct {
    int32_t *v;
    int32_t len;
    int owned;
} list;

typedef struct {
    clu__items *it;
    float t;
    int32_t *parent;
    uint32_t *ver;   /* bumped when a cluster's sum changes */
    uint32_t *bver;  /* bumped when a cluster's representative entry is replaced */
    list *adj, *grp;
    heap h;
    uint32_t *stamp;  /* union_adj's dedup marks, one per item */
    uint32_t stamp_now;
} state;

static int32_t find(int32_t *parent, int32_t x) {
    int32_t r = x;
    while (parent[r] != r) r = parent[r];
    while (parent[x] != r) {
        int32_t nx = parent[x];
        parent[x] = r;
        x = nx;
    }
    return r;
}

static int share_group(const list *a, const list *b) {
    int32_t i = 0, j = 0;
    while (i < a->len && j < b->len) {
        if (a->v[i] == b->v[j]) return 1;
        if (a->v[i] < b->v[j]) i++;
        else j++;
    }
    return 0;
}

static float avg_dist(const state *s, int32_t a, int32_t b) {
    size_t d = s->it->d;
    double dot = clu__dot(s->it->sums + (size_t)a * d, s->it->sums + (size_t)b * d, d);
    return (float)(1.0 - dot / ((double)s->it->count[a] * (double)s->it->count[b]));
}

/* Push x's nearest allowed neighbour under t as x's one representative
 * entry (older ones of x become invalid). */
static int push_best(state *s, int32_t x) {
    entry best = {s->t, -1, -1, 0, 0};
    int found = 0;
    s->bver[x]++;
    for (int32_t i = 0; i < s->adj[x].len; i++) {
        int32_t y = find(s->parent, s->adj[x].v[i]);
        if (y == x || share_group(&s->grp[x], &s->grp[y])) continue;
        entry e = {avg_dist(s, x, y), x, y, s->bver[x], s->ver[y]};
        if (!(e.d < s->t)) continue;
        if (!found || entry_less(&e, &best)) best = e, found = 1;
    }
    return found ? heap_push(&s->h, best) : UT_OK;
}

static void list_set(list *l, int32_t *v, int32_t len) {
    if (l->owned) ut_free(l->v);
    l->v = v, l->len = len, l->owned = 1;
}

static void list_drop(list *l) {
    if (l->owned) ut_free(l->v);
    l->v = NULL, l->len = 0, l->owned = 0;
}

/* Sorted union of two sorted group lists into a fresh allocation. */
static int union_groups(list *into, const list *other) {
    if (!other->len) return UT_OK;
    int32_t *u = ut_malloc(((size_t)into->len + (size_t)other->len) * sizeof *u);
    if (!u) return ut_fail(UT_ENOMEM, "out of memory merging groups");
    int32_t i = 0, j = 0, n = 0;
    while (i < into->len || j < other->len) {
        if (j >= other->len || (i < into->len && into->v[i] < other->v[j])) u[n++] = into->v[i++];
        else if (i >= into->len || other->v[j] < into->v[i]) u[n++] = other->v[j++];
        else u[n++] = into->v[i++], j++;
    }
    list_set(into, u, n);
    return UT_OK;
}

/* New neighbour list of s (just merged with o): live ids of both lists,
 * each once. Dedup by a per-call stamp instead of sorting: a big cluster
 * absorbing faces one by one would otherwise sort its long list each time. */
static int union_adj(state *st, int32_t s, int32_t o) {
    size_t n = (size_t)st->adj[s].len + (size_t)st->adj[o].len;
    int32_t *u = ut_malloc((n ? n : 1) * sizeof *u);
    if (!u) return ut_fail(UT_ENOMEM, "out of memory merging neighbour lists");
    uint32_t mark = ++st->stamp_now;
    st->stamp[s] = mark;
    size_t m = 0;
    for (int pass = 0; pass < 2; pass++) {
        const list *l = &st->adj[pass ? o : s];
        for (int32_t i = 0; i < l->len; i++) {
            int32_t r = find(st->parent, l->v[i]);
            if (st->stamp[r] == mark) continue;
            st->stamp[r] = mark;
            u[m++] = r;
        }
    }
    list_set(&st->adj[s], u, (int32_t)m);
    list_drop(&st->adj[o]);
    return UT_OK;
}

static int merge(state *st, entry e, float *height) {
    int32_t s = e.a < e.b ? e.a : e.b, o = e.a < e.b ? e.b : e.a;  /* keep the smaller id */
    size_t d = st->it->d;
    float *ss = st->it->sums + (size_t)s * d;
    const float *os = st->it->sums + (size_t)o * d;
    for (size_t j = 0; j < d; j++) ss[j] += os[j];
    st->it->count[s] += st->it->count[o];
    int rc = union_groups(&st->grp[s], &st->grp[o]);
    if (rc != UT_OK) return rc;
    list_drop(&st->grp[o]);
    st->parent[o] = s;
    st->ver[s]++;
    height[s] = e.d;
    if ((rc = union_adj(st, s, o)) != UT_OK) return rc;
    return push_best(st, s);
}

/* CSR adjacency (both directions) of the candidate edges. */
static int build_adj(state *st, const int32_t *ea, const int32_t *eb, size_t ne, int32_t **csr) {
    size_t n = st->it->nitems;
    size_t *off = ut_calloc(n + 1, sizeof *off);
    *csr = ut_malloc((ne ? 2 * ne : 1) * sizeof **csr);
    if (!off || !*csr) {
        ut_free(off);
        return ut_fail(UT_ENOMEM, "out of memory for %zu candidate edges", ne);
    }
    for (size_t e = 0; e < ne; e++) off[ea[e] + 1]++, off[eb[e] + 1]++;
    for (size_t i = 0; i < n; i++) off[i + 1] += off[i];
    for (size_t i = 0; i < n; i++) {
        st->adj[i].v = *csr + off[i];
        st->adj[i].len = 0;
    }
    for (size_t e = 0; e < ne; e++) {
        st->adj[ea[e]].v[st->adj[ea[e]].len++] = eb[e];
        st->adj[eb[e]].v[st->adj[eb[e]].len++] = ea[e];
    }
    ut_free(off);
    return UT_OK;
}

int clu__avglink(clu__items *it, const int32_t *ea, const int32_t *eb, size_t nedges,
                 float t, int32_t *lab, float *height) {
    size_t n = it->nitems;
    state st = {.it = it, .t = t};
    int32_t *csr = NULL;
    int rc = UT_OK;
    st.parent = ut_malloc((n ? n : 1) * sizeof *st.parent);
    st.ver = ut_calloc(n ? n : 1, sizeof *st.ver);
    st.bver = ut_calloc(n ? n : 1, sizeof *st.bver);
    st.adj = ut_calloc(n ? n : 1, sizeof *st.adj);
    st.grp = ut_calloc(n ? n : 1, sizeof *st.grp);
    st.stamp = ut_calloc(n ? n : 1, sizeof *st.stamp);
    if (!st.parent || !st.ver || !st.bver || !st.adj || !st.grp || !st.stamp) {
        rc = ut_fail(UT_ENOMEM, "out of memory for average linkage of %zu items", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        st.parent[i] = (int32_t)i;
        height[i] = -1.0f;
        if (it->grp_off) {
            st.grp[i].v = (int32_t *)it->grp + it->grp_off[i];
            st.grp[i].len = it->grp_off[i + 1] - it->grp_off[i];
        }
    }
    if ((rc = build_adj(&st, ea, eb, nedges, &csr)) != UT_OK) goto done;
    for (size_t i = 0; i < n && rc == UT_OK; i++) rc = push_best(&st, (int32_t)i);
    while (rc == UT_OK && st.h.len) {
        entry e = heap_pop(&st.h);
        if (st.parent[e.a] != e.a || st.bver[e.a] != e.va) continue;  /* superseded */
        if (st.parent[e.b] != e.b || st.ver[e.b] != e.vb) {
            rc = push_best(&st, e.a);  /* partner changed: look again */
            continue;
        }
        rc = merge(&st, e, height);
    }
    if (rc == UT_OK)
        for (size_t i = 0; i < n; i++) lab[i] = find(st.parent, (int32_t)i);
done:
    if (st.adj)
        for (size_t i = 0; i < n; i++) list_drop(&st.adj[i]);
    if (st.grp)
        for (size_t i = 0; i < n; i++) list_drop(&st.grp[i]);
    ut_free(st.parent), ut_free(st.ver), ut_free(st.bver), ut_free(st.adj), ut_free(st.grp), ut_free(st.stamp);
    ut_free(st.h.e), ut_free(csr);
    return rc;
}
