/* mer-bench site asset: sortable tables and row filters for the static leaderboard pages.
   Plain JavaScript, no dependencies, no network. Generated pages load it; see mer_bench/report/html.py. */
"use strict";

(function () {
  // A cell's sort key: its data-sort number where it has one ("" sorts last), else its text.
  function sortKey(cell, numeric) {
    if (!numeric) {
      return cell.textContent.trim().toLowerCase();
    }
    const raw = cell.dataset.sort;
    return raw === undefined || raw === "" ? null : parseFloat(raw);
  }

  function compare(a, b, numeric) {
    if (a === null || b === null) {
      return a === b ? 0 : a === null ? 1 : -1; // missing values last, in either direction
    }
    if (numeric) {
      return a - b;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // Sort the first tbody (the rows) by one column; a second tbody (chance references) stays last.
  function sortTable(table, header) {
    const column = Array.prototype.indexOf.call(header.parentNode.children, header);
    const numeric = header.dataset.type === "number";
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).map(function (row, index) {
      return { row: row, index: index, key: sortKey(row.cells[column], numeric) };
    });
    rows.sort(function (a, b) {
      const missing = a.key === null || b.key === null;
      const order = compare(a.key, b.key, numeric);
      const signed = missing || ascending ? order : -order;
      return signed !== 0 ? signed : a.index - b.index; // stable
    });
    rows.forEach(function (item) {
      body.appendChild(item.row);
    });
    table.querySelectorAll("thead th").forEach(function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function chosenFilters() {
    const chosen = {};
    document.querySelectorAll("select[data-filter]").forEach(function (select) {
      if (select.value !== "") {
        chosen[select.dataset.filter] = select.value;
      }
    });
    return chosen;
  }

  // Hide the rows that do not match every chosen filter; chance references are never hidden.
  // A section (data-filter-scope) whose filterable rows are all hidden is hidden too.
  function applyFilters() {
    const chosen = chosenFilters();
    const names = Object.keys(chosen);
    let shown = 0;
    const rows = document.querySelectorAll("tr[data-filters]");
    rows.forEach(function (row) {
      const values = JSON.parse(row.dataset.filters);
      const match = names.every(function (name) {
        return (values[name] || []).indexOf(chosen[name]) !== -1;
      });
      row.hidden = !match;
      if (match) {
        shown += 1;
      }
    });
    document.querySelectorAll("[data-filter-scope]").forEach(function (scope) {
      const inside = scope.querySelectorAll("tr[data-filters]");
      scope.hidden = inside.length > 0 && Array.from(inside).every(function (row) {
        return row.hidden;
      });
    });
    document.querySelectorAll("output.filter-count").forEach(function (output) {
      output.textContent = names.length ? shown + " of " + rows.length + " rows shown" : "";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.sortable thead th").forEach(function (header) {
      const table = header.closest("table");
      header.querySelector("button").addEventListener("click", function () {
        sortTable(table, header);
      });
    });
    document.querySelectorAll("select[data-filter]").forEach(function (select) {
      select.addEventListener("change", applyFilters);
    });
    document.querySelectorAll("form.filters").forEach(function (form) {
      form.addEventListener("reset", function () {
        window.setTimeout(applyFilters, 0); // after the form has reset its selects
      });
    });
    applyFilters(); // a browser may restore a filter chosen before a reload
  });
})();
