/*
 * placement.c — the placement planner (rules in placement.h).
 */
#include "rdmx_build_config.h"

#include "placement.h"

#include <stdio.h>
#include <string.h>

int rdmx_place_parse_bind(const char *t, rdmx_bind_t *out)
{
    if (!strcmp(t, "core") || !strcmp(t, "cores"))
        *out = RDMX_BIND_CORE;
    else if (!strcmp(t, "l3cache") || !strcmp(t, "l3"))
        *out = RDMX_BIND_L3;
    else if (!strcmp(t, "numa"))
        *out = RDMX_BIND_NUMA;
    else if (!strcmp(t, "socket") || !strcmp(t, "package"))
        *out = RDMX_BIND_SOCKET;
    else if (!strcmp(t, "none"))
        *out = RDMX_BIND_NONE;
    else
        return -1;
    return 0;
}

int rdmx_place_parse_map(const char *t, rdmx_pmap_t *out, int *host_by_node)
{
    *host_by_node = 0;
    if (!strcmp(t, "core") || !strcmp(t, "slot"))
        *out = RDMX_PMAP_CORE;
    else if (!strcmp(t, "node")) {
        *out = RDMX_PMAP_CORE;
        *host_by_node = 1;
    } else if (!strcmp(t, "numa"))
        *out = RDMX_PMAP_NUMA;
    else if (!strcmp(t, "socket") || !strcmp(t, "package"))
        *out = RDMX_PMAP_SOCKET;
    else if (!strcmp(t, "l3cache") || !strcmp(t, "l3"))
        *out = RDMX_PMAP_L3;
    else
        return -1;
    return 0;
}

#if RDMX_HAVE_HWLOC

static hwloc_obj_type_t map_type(rdmx_pmap_t m)
{
    switch (m) {
    case RDMX_PMAP_NUMA:
        return HWLOC_OBJ_NUMANODE;
    case RDMX_PMAP_SOCKET:
        return HWLOC_OBJ_PACKAGE;
    case RDMX_PMAP_L3:
        return HWLOC_OBJ_L3CACHE;
    default:
        return HWLOC_OBJ_CORE;
    }
}

/* The object of `type` whose cpuset covers `core` (NUMA nodes are not
 * ancestors of cores in hwloc 2, so search by cpuset). */
static hwloc_obj_t covering(hwloc_topology_t topo, hwloc_obj_t core,
                            hwloc_obj_type_t type)
{
    hwloc_obj_t o = NULL;

    while ((o = hwloc_get_next_obj_by_type(topo, type, o)) != NULL)
        if (o->cpuset && hwloc_bitmap_isincluded(core->cpuset, o->cpuset))
            return o;
    return NULL;
}

static void describe(hwloc_topology_t topo, hwloc_obj_t core,
                     hwloc_obj_type_t ctype, char *out, size_t len)
{
    hwloc_obj_t pkg = covering(topo, core, HWLOC_OBJ_PACKAGE);
    hwloc_obj_t numa = covering(topo, core, HWLOC_OBJ_NUMANODE);
    int n =
        snprintf(out, len, "%s L#%u", ctype == HWLOC_OBJ_CORE ? "core" : "pu",
                 core->logical_index);

    if (pkg && n > 0 && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n, " (package L#%u",
                      pkg->logical_index);
    if (numa && n > 0 && (size_t)n < len)
        n += snprintf(out + n, len - (size_t)n, "%sNUMA L#%u",
                      pkg ? ", " : " (", numa->logical_index);
    if ((pkg || numa) && n > 0 && (size_t)n < len)
        snprintf(out + n, len - (size_t)n, ")");
}

rdmx_status_t rdmx_place_plan(hwloc_topology_t topo, int n, rdmx_bind_t bind,
                              rdmx_pmap_t map, rdmx_place_t *out,
                              int *oversubscribed, char *err, size_t errlen)
{
    hwloc_obj_type_t ctype = HWLOC_OBJ_CORE, dtype;
    int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    int ndom;

    if (n < 1) {
        snprintf(err, errlen, "no ranks to place");
        return RDMX_ERR_INVALID;
    }
    if (ncores <= 0) { /* some virtual machines report no cores */
        ctype = HWLOC_OBJ_PU;
        ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    }
    if (ncores <= 0) {
        snprintf(err, errlen, "the hwloc topology has no cores or PUs");
        return RDMX_ERR_INVALID;
    }
    *oversubscribed = n > ncores;
    if (bind == RDMX_BIND_DEFAULT)
        bind = *oversubscribed ? RDMX_BIND_NONE : RDMX_BIND_CORE;
    dtype = map_type(map);
    if (dtype == HWLOC_OBJ_CORE)
        dtype = ctype;
    ndom = hwloc_get_nbobjs_by_type(topo, dtype);
    if (ndom <= 0) { /* e.g. no L3 reported: fall back to plain cores */
        dtype = ctype;
        ndom = ncores;
    }

    for (int i = 0; i < n; i++) {
        rdmx_place_t *p = &out[i];
        hwloc_obj_t core, target = NULL;

        memset(p, 0, sizeof(*p));
        if (dtype == ctype) {
            core = hwloc_get_obj_by_type(topo, ctype, (unsigned)(i % ncores));
        } else {
            hwloc_obj_t dom =
                hwloc_get_obj_by_type(topo, dtype, (unsigned)(i % ndom));
            int k = i / ndom;
            int inside = hwloc_get_nbobjs_inside_cpuset_by_type(
                topo, dom->cpuset, ctype);
            if (inside <= 0) {
                snprintf(err, errlen, "%s L#%u contains no cores",
                         hwloc_obj_type_string(dtype), dom->logical_index);
                return RDMX_ERR_INVALID;
            }
            core = hwloc_get_obj_inside_cpuset_by_type(topo, dom->cpuset, ctype,
                                                       (unsigned)(k % inside));
        }
        if (!core) {
            snprintf(err, errlen, "no core for local rank %d", i);
            return RDMX_ERR_INVALID;
        }
        p->core = (int)core->logical_index;
        describe(topo, core, ctype, p->where, sizeof(p->where));
        switch (bind) {
        case RDMX_BIND_CORE:
            target = core;
            break;
        case RDMX_BIND_L3:
            target = covering(topo, core, HWLOC_OBJ_L3CACHE);
            break;
        case RDMX_BIND_NUMA:
            target = covering(topo, core, HWLOC_OBJ_NUMANODE);
            break;
        case RDMX_BIND_SOCKET:
            target = covering(topo, core, HWLOC_OBJ_PACKAGE);
            break;
        default:
            break;
        }
        if (bind != RDMX_BIND_NONE && !target) {
            /* The level does not exist here: the whole machine. */
            target = hwloc_get_root_obj(topo);
        }
        if (target) {
            p->bound = 1;
            hwloc_bitmap_list_snprintf(p->cpuset, sizeof(p->cpuset),
                                       target->cpuset);
        }
    }
    return RDMX_OK;
}

#endif
