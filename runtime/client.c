/*
 * The typed client of a sandbox's supervisor (ctl.sock): one function per
 * request, so that the CLI verbs and containerd-shim-cocoon-v2 never build
 * protobuf requests by hand. Each call connects, asks and disconnects; the
 * supervisor's answer comes back as 0 or its errno and message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "runtime.h"

/*
 * One request whose answer must carry a body of the case want (what names
 * the request in the error when it does not): the response in *ret.
 */
static int call_expect(const char *sv_dir, Request *req, int want, const char *what, Response **ret,
                       cocoon_error **err)
{
        _cleanup_response_ Response *resp = NULL;
        int r = sandbox_call(sv_dir, req, &resp, err);
        if (r < 0)
                return r;
        if ((int) resp->body_case != want)
                return error_set(err, EPROTO, "the supervisor answered %s without its result", what);
        *ret = TAKE_PTR(resp);
        return 0;
}

int sandbox_start(const char *sv_dir, const char *id, cocoon_error **err)
{
        Cocoon__StartContainerRequest st = COCOON__START_CONTAINER_REQUEST__INIT;
        st.container_id = (char *) id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_START_CONTAINER;
        req.start_container = &st;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_signal(const char *sv_dir, const char *id, const char *exec_id, int sig, bool all, cocoon_error **err)
{
        Cocoon__SignalProcessRequest sp = COCOON__SIGNAL_PROCESS_REQUEST__INIT;
        sp.container_id = (char *) id;
        sp.exec_id = (char *) (exec_id ? exec_id : "");
        sp.signal = sig;
        sp.all = all;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_SIGNAL_PROCESS;
        req.signal_process = &sp;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_pause(const char *sv_dir, const char *id, bool paused, cocoon_error **err)
{
        Cocoon__PauseContainerRequest pc = COCOON__PAUSE_CONTAINER_REQUEST__INIT;
        pc.container_id = (char *) id;
        pc.paused = paused;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_PAUSE_CONTAINER;
        req.pause_container = &pc;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_list_processes(const char *sv_dir, const char *id, int32_t **ret_pids, size_t *ret_n, cocoon_error **err)
{
        Cocoon__ListProcessesRequest lp = COCOON__LIST_PROCESSES_REQUEST__INIT;
        lp.container_id = (char *) id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_LIST_PROCESSES;
        req.list_processes = &lp;
        _cleanup_response_ Response *resp = NULL;
        int r = call_expect(sv_dir, &req, COCOON__RESPONSE__BODY_LIST_PROCESSES, "list_processes", &resp, err);
        if (r < 0)
                return r;
        const Cocoon__ListProcessesResponse *l = resp->list_processes;
        int32_t *pids = calloc(l->n_pids ? l->n_pids : 1, sizeof(*pids));
        if (!pids)
                return -ENOMEM;
        memcpy(pids, l->pids, l->n_pids * sizeof(*pids));
        *ret_pids = pids;
        *ret_n = l->n_pids;
        return 0;
}

int sandbox_update(const char *sv_dir, const char *id, const char *resources_json, cocoon_error **err)
{
        Cocoon__UpdateContainerRequest uc = COCOON__UPDATE_CONTAINER_REQUEST__INIT;
        uc.container_id = (char *) id;
        uc.resources_json = (char *) resources_json;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_UPDATE_CONTAINER;
        req.update_container = &uc;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_resize(const char *sv_dir, const char *id, const char *exec_id, unsigned rows, unsigned cols,
                   cocoon_error **err)
{
        Cocoon__ResizeRequest rs = COCOON__RESIZE_REQUEST__INIT;
        rs.container_id = (char *) id;
        rs.exec_id = (char *) (exec_id ? exec_id : "");
        rs.rows = rows;
        rs.cols = cols;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_RESIZE;
        req.resize = &rs;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_stats(const char *sv_dir, const char *id, Response **ret, cocoon_error **err)
{
        Cocoon__StatsContainerRequest sc = COCOON__STATS_CONTAINER_REQUEST__INIT;
        sc.container_id = (char *) id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_STATS_CONTAINER;
        req.stats_container = &sc;
        return call_expect(sv_dir, &req, COCOON__RESPONSE__BODY_STATS_CONTAINER, "stats_container", ret, err);
}

int sandbox_container_state(const char *sv_dir, const char *id, char **ret_status, cocoon_error **err)
{
        Cocoon__ContainerStateRequest cs = COCOON__CONTAINER_STATE_REQUEST__INIT;
        cs.container_id = (char *) id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_CONTAINER_STATE;
        req.container_state = &cs;
        _cleanup_response_ Response *resp = NULL;
        int r = call_expect(sv_dir, &req, COCOON__RESPONSE__BODY_CONTAINER_STATE, "container_state", &resp, err);
        if (r < 0)
                return r;
        *ret_status = strdup(resp->container_state->status);
        return *ret_status ? 0 : -ENOMEM;
}

int sandbox_remove(const char *sv_dir, const char *id, cocoon_error **err)
{
        Cocoon__RemoveContainerRequest rm = COCOON__REMOVE_CONTAINER_REQUEST__INIT;
        rm.container_id = (char *) id;
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_REMOVE_CONTAINER;
        req.remove_container = &rm;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_close_stdin(const char *sv_dir, const char *id, const char *exec_id, cocoon_error **err)
{
        Cocoon__CloseStdinRequest cs = COCOON__CLOSE_STDIN_REQUEST__INIT;
        cs.container_id = (char *) id;
        cs.exec_id = (char *) (exec_id ? exec_id : "");
        Request req = COCOON__REQUEST__INIT;
        req.body_case = COCOON__REQUEST__BODY_CLOSE_STDIN;
        req.close_stdin = &cs;
        return sandbox_call(sv_dir, &req, NULL, err);
}

int sandbox_attach(struct conn *c, uint64_t req_id, const struct sandbox_attach_opts *o, const int fds[3],
                   void (*on_event)(Event *ev, void *userdata), void *userdata, cocoon_error **err)
{
        Request req = COCOON__REQUEST__INIT;
        Cocoon__AttachRequest at = COCOON__ATTACH_REQUEST__INIT;
        Cocoon__ExecProcessRequest ex = COCOON__EXEC_PROCESS_REQUEST__INIT;
        req.id = req_id;
        if (o->exec_process_json) {
                ex.container_id = (char *) o->id;
                ex.exec_id = (char *) o->exec_id;
                ex.process_json = (char *) o->exec_process_json;
                ex.ignore_paused = o->ignore_paused;
                req.body_case = COCOON__REQUEST__BODY_EXEC_PROCESS;
                req.exec_process = &ex;
        } else {
                at.container_id = (char *) o->id;
                at.exec_id = (char *) o->exec_id;
                req.body_case = COCOON__REQUEST__BODY_ATTACH;
                req.attach = &at;
        }
        return msg_call(c, &req, fds, 3, NULL, on_event, userdata, err);
}

bool sandbox_exit_of(const Event *ev, const char *id, const char *exec_id, int *ret_exit_code)
{
        if (ev->body_case != COCOON__EVENT__BODY_EXITED || strcmp(ev->exited->container_id, id) != 0 ||
            strcmp(ev->exited->exec_id, exec_id ? exec_id : "") != 0)
                return false;
        *ret_exit_code = ev->exited->exit_code;
        return true;
}
