// The admin page: live job table, "Update stats", "Retry". No build step.
(function () {
  "use strict";

  const root = document.getElementById("admin");
  if (!root) return;
  const table = document.getElementById("jobs-table");
  const banner = document.getElementById("banner");
  const liveText = document.getElementById("live-text");
  const live = document.getElementById("live");
  const summary = document.getElementById("queue-summary");
  const stamps = document.getElementById("cache-stamps");
  const pager = document.getElementById("job-pager");
  const updateButton = document.getElementById("update-stats");
  const filters = document.getElementById("filters");
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const activeMs = Number(root.dataset.activePollMs) || 2000;
  const idleMs = Number(root.dataset.idlePollMs) || 30000;

  let active = root.dataset.active === "true";
  let timer = null;
  let inFlight = null;
  let following = null; // the job the banner follows to its end
  let page = Number(new URLSearchParams(location.search).get("page")) || 1;
  const expanded = new Set();

  function headers(json) {
    const h = { Accept: "application/json" };
    if (json) h["Content-Type"] = "application/json";
    if (csrfMeta) h["X-CSRF-Token"] = csrfMeta.content;
    return h;
  }

  function showBanner(kind, title, text, jobStatus) {
    banner.hidden = false;
    if (jobStatus) banner.dataset.jobStatus = jobStatus; else delete banner.dataset.jobStatus;
    banner.className = "banner banner-" + kind;
    banner.textContent = "";
    if (title) {
      const strong = document.createElement("strong");
      strong.textContent = title + " ";
      banner.appendChild(strong);
    }
    banner.appendChild(document.createTextNode(text));
  }

  function localTimes(scope) {
    const today = new Date().toDateString();
    scope.querySelectorAll("time[datetime]").forEach(function (el) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      const clock = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      el.textContent = when.toDateString() === today ? clock : when.toLocaleDateString() + " " + clock;
      el.title = when.toString();
    });
  }

  function setExpanded(tbody, open) {
    const details = tbody.querySelector(".job-details");
    const button = tbody.querySelector(".expand");
    if (!details || !button) return;
    details.hidden = !open;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    tbody.classList.toggle("open", open);
    if (open) expanded.add(tbody.dataset.jobId); else expanded.delete(tbody.dataset.jobId);
  }

  function swapRows(html) {
    table.querySelectorAll("tbody").forEach(function (tb) { tb.remove(); });
    table.insertAdjacentHTML("beforeend", html);
    table.querySelectorAll("tbody.job").forEach(function (tb) {
      if (expanded.has(tb.dataset.jobId)) setExpanded(tb, true);
    });
    localTimes(table);
  }

  function showLoading() {
    table.querySelectorAll("tbody").forEach(function (tb) { tb.remove(); });
    table.insertAdjacentHTML(
      "beforeend",
      '<tbody class="loading"><tr><td colspan="11" class="empty-state">Loading job status...</td></tr></tbody>'
    );
  }

  function query() {
    const params = new URLSearchParams();
    const status = document.getElementById("status").value;
    const trigger = document.getElementById("trigger").value;
    const jobTenant = document.getElementById("job-tenant");
    if (status) params.set("status", status);
    if (trigger) params.set("trigger", trigger);
    if (jobTenant && jobTenant.value) params.set("job_tenant", jobTenant.value);
    if (page > 1) params.set("page", String(page));
    return params;
  }

  function refreshQuery() {
    const params = query();
    const tenant = document.getElementById("tenant");
    if (tenant && tenant.value) params.set("tenant", tenant.value);
    if (following) params.set("follow", following);
    return params;
  }

  // The banner of the job it announced: queued, then processing, then how it ended.
  function showFollowed(job) {
    const name = "Job " + job.id.slice(0, 8);
    if (job.status === "queued") {
      showBanner("info", name + " is queued.", "Waiting for a worker; this banner follows it.", "queued");
    } else if (job.status === "processing") {
      showBanner("info", name + " is processing.", "A worker runs the stats functions.", "processing");
    } else if (job.status === "completed") {
      showBanner("ok", name + " completed", "in " + job.duration + ".", "completed");
      following = null;
    } else if (job.status === "failed") {
      showBanner("error", "Stats Update Failed:", name + " failed: " + (job.error || "no error recorded"), "failed");
      following = null;
    }
  }

  function schedule() {
    clearTimeout(timer);
    const wait = active && !document.hidden ? activeMs : idleMs;
    liveText.textContent = active ? "Live: every 2 s" : "Live: every 30 s";
    live.classList.toggle("active", active);
    timer = setTimeout(refresh, wait);
  }

  async function refresh() {
    clearTimeout(timer);
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    live.classList.add("busy");
    try {
      const params = refreshQuery();
      const response = await fetch(root.dataset.refreshUrl + "?" + params.toString(), {
        headers: headers(false), credentials: "same-origin", signal: controller.signal, cache: "no-store",
      });
      if (response.status === 401) {
        window.location.href = "/admin/signin?next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      swapRows(data.rows_html);
      pager.innerHTML = data.pager_html;
      if (following && data.followed && data.followed.id === following) showFollowed(data.followed);
      else if (following && !data.followed) following = null; // deleted meanwhile: stop asking
      summary.innerHTML = data.summary_html;
      stamps.innerHTML = data.stamps_html;
      localTimes(stamps);
      active = data.active;
      root.dataset.active = active ? "true" : "false";
      if (banner.classList.contains("banner-load-error")) banner.hidden = true;
    } catch (err) {
      if (err.name === "AbortError") return;
      showBanner("error banner-load-error", "", "Error loading jobs: " + err.message);
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        live.classList.remove("busy");
        schedule();
      }
    }
  }

  function newRequestId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST", headers: headers(true), credentials: "same-origin",
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    return { ok: response.ok, status: response.status, data: data };
  }

  updateButton.addEventListener("click", async function () {
    updateButton.disabled = true;
    const label = updateButton.textContent;
    updateButton.textContent = "Updating...";
    const body = { triggeredBy: "admin", requestId: newRequestId(), userId: "admin" };
    const tenant = document.getElementById("tenant");
    if (tenant && tenant.value) body.tenantId = tenant.value;
    try {
      const reply = await postJson("/api/admin/enqueue-stats-job", body);
      if (reply.ok && reply.data.mode === "synchronous") {
        showBanner("ok", "Stats updated.", reply.data.message);
      } else if (reply.ok) {
        following = reply.data.jobId;
        showFollowed({ id: following, status: "queued" });
        if (reply.data.deduplicated) {
          banner.appendChild(document.createTextNode(" A queued job already covered this request."));
        }
        active = true;
      } else {
        showBanner("error", "Stats Update Failed", reply.data.error || ("HTTP " + reply.status));
      }
    } catch (err) {
      showBanner("error", "Stats Update Failed", err.message);
    } finally {
      updateButton.disabled = false;
      updateButton.textContent = label;
      refresh();
    }
  });

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain http to another host: no Clipboard API, the older way still works.
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    return Promise.resolve();
  }

  table.addEventListener("click", async function (event) {
    const copy = event.target.closest("button.copy-id");
    if (copy) {
      try {
        await copyText(copy.dataset.copy);
        copy.classList.add("copied");
        setTimeout(function () { copy.classList.remove("copied"); }, 1500);
      } catch (err) {
        showBanner("error", "Copy failed:", err.message);
      }
      return;
    }
    const retry = event.target.closest("button.retry");
    if (retry) {
      retry.disabled = true;
      retry.textContent = "Retrying...";
      try {
        const reply = await postJson("/api/admin/background-jobs/" + encodeURIComponent(retry.dataset.jobId) + "/retry");
        if (reply.ok) {
          following = retry.dataset.jobId;
          showFollowed({ id: following, status: "queued" });
          active = true;
        } else {
          showBanner("error", "Retry failed:", reply.data.error || ("HTTP " + reply.status));
        }
      } catch (err) {
        showBanner("error", "Retry failed:", err.message);
      }
      refresh();
      return;
    }
    const row = event.target.closest("tr.job-row");
    if (!row || event.target.closest("a, select, input")) return;
    const tbody = row.parentElement;
    setExpanded(tbody, tbody.querySelector(".job-details").hidden);
  });

  filters.addEventListener("change", function () {
    page = 1; // other filters: from the newest again
    const params = query();
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
    showLoading();
    refresh();
  });

  const tenantSelect = document.getElementById("tenant");
  if (tenantSelect && tenantSelect.tagName === "SELECT") {
    tenantSelect.addEventListener("change", function () {
      const params = query();
      params.set("tenant", tenantSelect.value);
      location.search = params.toString();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refresh(); else schedule();
  });

  localTimes(document);
  schedule();
})();
