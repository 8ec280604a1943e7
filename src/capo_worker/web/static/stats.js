// League pages: sortable tables and filter selects. No build step.
(function () {
  "use strict";

  function cellValue(row, index) {
    const cell = row.cells[index];
    if (!cell) return "";
    return cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim();
  }

  function sortTable(table, index, kind, header) {
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).filter(function (r) { return r.cells.length > 1; });
    if (rows.length < 2) return;
    // First click: numbers high to low, names A to Z; each further click flips.
    const current = header.getAttribute("aria-sort");
    const descending = current ? current === "ascending" : kind === "num";
    rows.sort(function (a, b) {
      const x = cellValue(a, index), y = cellValue(b, index);
      let order;
      if (kind === "num") {
        const nx = x === "" ? -Infinity : Number(x), ny = y === "" ? -Infinity : Number(y);
        order = nx - ny;
      } else {
        order = x.localeCompare(y);
      }
      return descending ? -order : order;
    });
    table.querySelectorAll("th[aria-sort]").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    rows.forEach(function (r) { body.appendChild(r); });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th[data-sort]").forEach(function (header) {
      const button = header.querySelector("button.sort");
      if (!button) return;
      button.addEventListener("click", function () {
        sortTable(table, header.cellIndex, header.dataset.sort, header);
      });
    });
  });

  const filters = document.getElementById("stats-filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.submit(); });
  }

  const today = new Date().toDateString();
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    el.textContent = (when.toDateString() === today ? "today " : when.toLocaleDateString() + " ")
      + when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  });
})();
