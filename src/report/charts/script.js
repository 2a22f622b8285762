// portreuse report: hover texts, the port lanes and the flagged table, drawn from the data
// embedded in the page (no network, no library). Every collision is a link from the end of
// the connection whose TIME_WAIT it hit to the reusing SYN, on the port's lane.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('data').textContent);
  var P = D.p, N = P.t.length, OUT = D.outcomes;
  var FAILED = { refused: 1, icmp_unreachable: 1, challenge_ack: 1, unanswered: 1 };
  var tip = document.getElementById('tip');
  var LANES_PER_PAGE = 20, LANE_H = 30, LEFT = 92, RIGHT = 14, AXIS_H = 34;

  // ---- words and numbers, as the terminal prints them
  function thousands(n) { return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function trim(t) { return t.indexOf('.') < 0 ? t : t.replace(/0+$/, '').replace(/\.$/, ''); }
  function humanSecs(ns) {
    var s = ns / 1e9, a = Math.abs(s);
    if (a < 0.01 && ns !== 0) return trim((s * 1000).toFixed(3)) + ' ms';
    return trim(s.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3)) + ' s';
  }
  function esc(t) {
    return String(t).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function frameLabel(fi, f) { return D.files.length > 1 ? D.files[fi] + '#' + f : String(f); }
  function fileOf(col, i) { return P[col] ? P[col][i] : 0; }
  function frameText(i) { return frameLabel(fileOf('fi', i), P.f[i]); }
  function prevText(i) { return P.pf[i] < 0 ? '-' : frameLabel(fileOf('pfi', i), P.pf[i]); }
  function endText(i) { return P.pe[i] < 0 ? '-' : frameLabel(fileOf('pei', i), P.pe[i]); }
  function fraction(ns) { return D.digits ? '.' + String(ns).padStart(9, '0').slice(0, D.digits) : ''; }
  function timeText(t) {
    if (!D.absolute) {
      var s = Math.floor(t / 1e9);
      return s + fraction(t - s * 1e9);
    }
    var total = D.origin[1] + t, sec = D.origin[0] + Math.floor(total / 1e9);
    var iso = new Date(sec * 1000).toISOString().slice(0, 19);
    return iso + fraction(total - Math.floor(total / 1e9) * 1e9) + 'Z';
  }
  function client(i) {
    var ip = D.clients[P.c[i]];
    return (ip.indexOf(':') >= 0 ? '[' + ip + ']' : ip) + ':' + P.port[i];
  }
  function holder(i) {
    if (P.g[i] < 0) return '-';
    return D.held[P.h[i]];
  }
  function pointTip(i) {
    var lines = ['frame ' + frameText(i) + ', ' + timeText(P.t[i]) + (D.absolute ? '' : ' s'),
      client(i) + ' \u2192 ' + D.servers[P.s[i]]];
    var o = OUT[P.o[i]];
    if (P.rt[i] > 0) o += ' (' + P.rt[i] + ' SYN retransmitted)';
    if (P.ch[i] > 0) o += ', ' + P.ch[i] + ' challenge ACK' + (P.ch[i] > 1 ? 's' : '');
    if (P.ca[i] > 0) o += '; cause ' + D.causes[P.ca[i] - 1];
    lines.push(o);
    if (P.g[i] >= 0) {
      var h = D.held[P.h[i]];
      var where = h === 'still open' ? 'the 4-tuple was still open'
        : (P.w[i] ? 'inside' : 'after') + ' the ' + humanSecs(D.window) + ' window; TIME_WAIT held by ' + h;
      lines.push('reused the 4-tuple of frame ' + prevText(i) + ', ' + humanSecs(P.g[i]) +
        ' after its last packet (frame ' + endText(i) + ')');
      lines.push(where);
    }
    return lines.join('\n');
  }

  // ---- the hover text, for static marks (data-tip) and drawn ones (data-i)
  function showTip(e, text) {
    tip.textContent = text;
    tip.style.display = 'block';
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var x = e.clientX + 14, y = e.clientY + 14;
    if (x + w > window.innerWidth - 4) x = Math.max(4, e.clientX - w - 14);
    if (y + h > window.innerHeight - 4) y = Math.max(4, e.clientY - h - 14);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  }
  document.addEventListener('mousemove', function (e) {
    var el = e.target.closest ? e.target.closest('[data-tip],[data-i]') : null;
    if (!el) { tip.style.display = 'none'; return; }
    var i = el.getAttribute('data-i');
    showTip(e, i !== null ? pointTip(+i) : el.getAttribute('data-tip'));
  });
  document.addEventListener('mouseleave', function () { tip.style.display = 'none'; });

  // ---- the display filter's copy button
  var copy = document.getElementById('copy-filter');
  if (copy) {
    copy.addEventListener('click', function () {
      var text = document.getElementById('filter').textContent;
      var done = function () { document.getElementById('copied').textContent = 'copied'; };
      var fallback = function () {
        var ta = document.createElement('textarea');
        ta.value = text;
        document.body.appendChild(ta);
        ta.select();
        try { document.execCommand('copy'); done(); } catch (err) { /* nothing to do */ }
        document.body.removeChild(ta);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  }

  // ---- round ticks
  function ticks(lo, hi, most) {
    var raw = Math.max((hi - lo) / most, 1e-9), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * mag; }).find(function (s) { return s >= raw * 0.999999; });
    var out = [];
    for (var k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) out.push(k * step);
    return out;
  }
  function tickText(v) { return Math.abs(v - Math.round(v)) < 1e-6 ? thousands(Math.round(v)) : trim(v.toFixed(3)); }

  // ---- the port lanes, one chart per drawn source
  var byFrame = new Map();
  for (var i = 0; i < N; i++) byFrame.set(fileOf('fi', i) + ':' + P.f[i], i);
  // End of a connection, known from a later reuse of its 4-tuple (SYN minus gap).
  var endOf = new Map();
  for (i = 0; i < N; i++) {
    if (P.g[i] < 0) continue;
    var k = fileOf('pfi', i) + ':' + P.pf[i];
    if (!endOf.has(k)) endOf.set(k, P.t[i] - P.g[i]);
  }
  function isLink(i) { return P.g[i] >= 0 && (P.fl[i] === 1 || FAILED[OUT[P.o[i]]] === 1); }

  var charts = [], table = null;

  function Lanes(el, c) {
    var self = this;
    this.el = el; this.c = c;
    var ports = new Map();
    for (var i = 0; i < N; i++) {
      if (P.c[i] !== c) continue;
      var p = P.port[i];
      if (!ports.has(p)) ports.set(p, { port: p, pts: [], flagged: 0, failed: 0 });
      var l = ports.get(p);
      l.pts.push(i);
      l.flagged += P.fl[i];
      if (FAILED[OUT[P.o[i]]]) l.failed++;
    }
    this.ports = Array.from(ports.values());
    this.byNumber = this.ports.slice().sort(function (a, b) { return a.port - b.port; });
    this.byFlagged = this.ports.slice().sort(function (a, b) {
      return (b.failed - a.failed) || (b.flagged - a.flagged) || (a.port - b.port);
    });
    var many = this.ports.length > LANES_PER_PAGE;
    this.order = many ? 'flagged' : 'number';
    this.only = many && this.ports.some(function (l) { return l.flagged > 0; }) ? 'flagged' : 'all';
    this.page = 0;
    this.full = [0, Math.max(D.span, 1)];
    this.x = this.full.slice();
    this.flash = -1;
    el.innerHTML = '<div class="controls">' +
      (many ? '<label>order <select class="order"><option value="flagged">most failures first</option><option value="number">by port number</option></select></label>' +
        '<label>show <select class="only"><option value="flagged">ports with flagged attempts</option><option value="all">all ports</option></select></label>' : '') +
      '<span class="pager"><button type="button" class="prev">\u2039</button><span class="range"></span><button type="button" class="next">\u203a</button></span>' +
      '<label>port <input type="search" class="find" size="6" placeholder="e.g. ' + this.byNumber[0].port + '"></label>' +
      '<button type="button" class="reset">whole capture</button><span class="zoom muted"></span></div>' +
      (many ? '<canvas class="overview" height="110"></canvas><div class="muted">Overview of all ' + thousands(this.ports.length) +
        ' ports (click to show a port; blue ticks: the lanes below)</div>' : '') +
      '<div class="svg"></div>';
    var q = function (s) { return el.querySelector(s); };
    if (many) {
      q('.order').value = this.order;
      q('.only').value = this.only;
      q('.order').addEventListener('change', function () { self.order = this.value; self.page = 0; self.draw(); });
      q('.only').addEventListener('change', function () { self.only = this.value; self.page = 0; self.draw(); });
      q('.overview').addEventListener('click', function (e) { self.overviewClick(e); });
    }
    q('.prev').addEventListener('click', function () { self.page--; self.draw(); });
    q('.next').addEventListener('click', function () { self.page++; self.draw(); });
    q('.reset').addEventListener('click', function () { self.x = self.full.slice(); self.draw(); });
    q('.find').addEventListener('change', function () {
      var port = parseInt(this.value, 10), l = ports.get(port);
      if (l) self.showPort(l, -1);
    });
    this.bindZoom();
    this.draw();
  }

  Lanes.prototype.list = function () {
    var l = this.order === 'flagged' ? this.byFlagged : this.byNumber;
    return this.only === 'flagged' ? l.filter(function (p) { return p.flagged > 0; }) : l;
  };

  Lanes.prototype.showPort = function (lane, point) {
    if (this.only === 'flagged' && lane.flagged === 0) {
      this.only = 'all';
      var s = this.el.querySelector('.only');
      if (s) s.value = 'all';
    }
    var at = this.list().indexOf(lane);
    this.page = Math.floor(Math.max(at, 0) / LANES_PER_PAGE);
    if (point >= 0) {
      var t = P.t[point], lo = P.g[point] >= 0 ? t - P.g[point] : t;
      if (lo < this.x[0] || t > this.x[1]) this.x = this.full.slice();
    }
    this.flash = point;
    this.draw();
  };

  Lanes.prototype.width = function () { return Math.max(this.el.clientWidth, 320); };

  Lanes.prototype.draw = function () {
    var list = this.list(), pages = Math.max(1, Math.ceil(list.length / LANES_PER_PAGE));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    var lanes = list.slice(this.page * LANES_PER_PAGE, (this.page + 1) * LANES_PER_PAGE);
    this.shown = lanes;
    var q = this.el.querySelector.bind(this.el);
    q('.range').textContent = list.length === 0 ? 'no ports'
      : ' ports ' + thousands(this.page * LANES_PER_PAGE + 1) + '\u2013' + thousands(this.page * LANES_PER_PAGE + lanes.length) +
        ' of ' + thousands(list.length) + ' ';
    q('.prev').disabled = this.page === 0;
    q('.next').disabled = this.page >= pages - 1;
    var zoomed = this.x[0] > this.full[0] || this.x[1] < this.full[1];
    q('.zoom').textContent = zoomed ? humanSecs(this.x[0]) + ' \u2013 ' + humanSecs(this.x[1]) + ' (drag to zoom further)' : 'drag across the lanes to zoom in time';
    q('.reset').disabled = !zoomed;
    q('.svg').innerHTML = this.svg(lanes);
    if (q('.overview')) this.overview();
    if (this.flash >= 0) {
      var f = this.flash;
      this.el.querySelectorAll('[data-i="' + f + '"]').forEach(function (m) { m.classList.add('hl'); m.classList.add('flash'); });
      this.flash = -1;
    }
  };

  Lanes.prototype.sx = function (t) {
    var w = this.width();
    return LEFT + (t - this.x[0]) / (this.x[1] - this.x[0]) * (w - LEFT - RIGHT);
  };

  Lanes.prototype.svg = function (lanes) {
    var self = this, w = this.width(), h = lanes.length * LANE_H + AXIS_H + 4;
    var x0 = this.x[0], x1 = this.x[1], win = D.window;
    var sx = function (t) { return self.sx(t).toFixed(1); };
    var clip = 'clip-' + this.c;
    var bg = [], tw = [], bars = [], links = [], ends = [], marks = [], late = [];
    lanes.forEach(function (l, k) {
      var y0 = k * LANE_H, yb = y0 + LANE_H - 9;
      bg.push('<rect class="lane' + (k % 2 ? ' odd' : '') + '" x="' + LEFT + '" y="' + y0 + '" width="' + (w - LEFT - RIGHT) + '" height="' + (LANE_H - 1) + '"/>');
      bg.push('<text class="port" x="' + (LEFT - 6) + '" y="' + (yb + 1) + '" text-anchor="end">' + l.port + '</text>');
      if (l.failed > 0) bg.push('<text class="count" x="' + (LEFT - 6) + '" y="' + (yb - 11) + '" text-anchor="end">' + l.failed + ' failed</text>');
      var seenEnd = {};
      l.pts.forEach(function (i) {
        var t = P.t[i];
        var key = fileOf('fi', i) + ':' + P.f[i];
        var end = endOf.get(key);
        if (OUT[P.o[i]] === 'established' && end !== undefined && end >= x0 && t <= x1) {
          bars.push('<line class="conn" x1="' + sx(Math.max(t, x0)) + '" y1="' + yb + '" x2="' + sx(Math.min(end, x1)) + '" y2="' + yb + '"/>');
        }
        if (isLink(i)) {
          var te = t - P.g[i];
          if (t >= x0 && te <= x1) {
            var xa = self.sx(te), xb = self.sx(t), span = Math.abs(xb - xa);
            // Taller for longer gaps (log scale, the window at full height), so arcs
            // from one end fan out instead of merging into one line.
            var f = Math.log(1 + P.g[i] / 1e8) / Math.log(1 + win / 1e8);
            var up = Math.min((LANE_H - 11) * Math.min(Math.max(f, 0.3), 1), Math.max(5, span * 0.5));
            var cls = 'o-' + OUT[P.o[i]];
            links.push('<path class="link ' + cls + '" data-i="' + i + '" d="M' + xa.toFixed(1) + ' ' + yb + 'C' + xa.toFixed(1) + ' ' + (yb - up * 1.33).toFixed(1) + ' ' + xb.toFixed(1) + ' ' + (yb - up * 1.33).toFixed(1) + ' ' + xb.toFixed(1) + ' ' + yb + '"/>');
            var ek = fileOf('pei', i) + ':' + P.pe[i];
            if (!seenEnd[ek]) {
              seenEnd[ek] = 1;
              ends.push('<line class="end" data-i="' + i + '" x1="' + xa.toFixed(1) + '" y1="' + (yb - 6) + '" x2="' + xa.toFixed(1) + '" y2="' + (yb + 6) + '"/>');
              if (D.held[P.h[i]] === 'server') {
                var xe = self.sx(Math.min(te + win, x1));
                tw.push('<rect class="tw" x="' + xa.toFixed(1) + '" y="' + (yb - 4) + '" width="' + Math.max(xe - xa, 1).toFixed(1) + '" height="8"/>');
              }
            }
          }
        }
        if (t < x0 || t > x1) return;
        var o = OUT[P.o[i]], fl = P.fl[i] === 1;
        var m = '<circle class="o-' + o + (fl ? ' flag' : '') + '" data-i="' + i + '" cx="' + sx(t) + '" cy="' + yb + '" r="' + (fl ? 4.2 : 3) + '"/>';
        (o === 'established' && !fl ? marks : late).push(m);
      });
    });
    var axis = [], ya = lanes.length * LANE_H + 2;
    axis.push('<path class="axis" d="M' + LEFT + ' ' + ya + 'H' + (w - RIGHT) + '"/>');
    ticks(x0 / 1e9, x1 / 1e9, Math.max(3, Math.floor((w - LEFT) / 90))).forEach(function (v) {
      var x = sx(v * 1e9);
      axis.push('<line class="tick" x1="' + x + '" y1="' + ya + '" x2="' + x + '" y2="' + (ya + 5) + '"/>');
      axis.push('<text x="' + x + '" y="' + (ya + 17) + '" text-anchor="middle">' + tickText(v) + '</text>');
    });
    axis.push('<text class="label" x="' + ((LEFT + w) / 2) + '" y="' + (ya + 31) + '" text-anchor="middle">seconds since the first frame</text>');
    return '<svg width="' + w + '" height="' + h + '" role="img" aria-label="source port against time for ' + esc(D.clients[this.c]) + '">' +
      '<defs><clipPath id="' + clip + '"><rect x="' + LEFT + '" y="0" width="' + (w - LEFT - RIGHT) + '" height="' + (ya + 1) + '"/></clipPath></defs>' +
      bg.join('') + '<g clip-path="url(#' + clip + ')">' + tw.join('') + bars.join('') + links.join('') + ends.join('') + marks.join('') + late.join('') + '</g>' +
      axis.join('') + '<rect class="brush" x="0" y="0" width="0" height="' + ya + '" visibility="hidden"/></svg>';
  };

  // Hovering a drawn mark lights up its collision: the link, the end, the earlier connection.
  Lanes.prototype.light = function (i, on) {
    var sel = '[data-i="' + i + '"]';
    if (P.g[i] >= 0) {
      var j = byFrame.get(fileOf('pfi', i) + ':' + P.pf[i]);
      if (j !== undefined) sel += ',[data-i="' + j + '"]';
    }
    this.el.querySelectorAll(sel).forEach(function (m) { m.classList.toggle('hl', on); });
  };

  Lanes.prototype.bindZoom = function () {
    var self = this, start = null;
    var box = this.el.querySelector('.svg');
    var px = function (e) { return e.clientX - box.getBoundingClientRect().left; };
    box.addEventListener('mouseover', function (e) {
      var m = e.target.closest('[data-i]');
      if (m) self.light(+m.getAttribute('data-i'), true);
    });
    box.addEventListener('mouseout', function (e) {
      var m = e.target.closest('[data-i]');
      if (m) self.light(+m.getAttribute('data-i'), false);
    });
    box.addEventListener('click', function (e) {
      var m = e.target.closest('[data-i]');
      if (m && table) table.show(+m.getAttribute('data-i'));
    });
    box.addEventListener('mousedown', function (e) {
      if (e.button !== 0) return;
      start = px(e);
      e.preventDefault();
    });
    window.addEventListener('mousemove', function (e) {
      if (start === null) return;
      var b = box.querySelector('.brush'), x = px(e);
      b.setAttribute('visibility', 'visible');
      b.setAttribute('x', Math.min(start, x));
      b.setAttribute('width', Math.abs(x - start));
    });
    window.addEventListener('mouseup', function (e) {
      if (start === null) return;
      var a = start, b = px(e);
      start = null;
      if (Math.abs(b - a) < 6) { var br = box.querySelector('.brush'); if (br) br.setAttribute('visibility', 'hidden'); return; }
      var w = self.width(), inv = function (x) {
        return self.x[0] + (Math.min(Math.max(x, LEFT), w - RIGHT) - LEFT) / (w - LEFT - RIGHT) * (self.x[1] - self.x[0]);
      };
      var t0 = inv(Math.min(a, b)), t1 = inv(Math.max(a, b));
      if (t1 - t0 > 1e5) self.x = [t0, t1];
      self.draw();
    });
  };

  // All ports of the source at a glance, on a canvas: the page's lanes ticked in blue.
  Lanes.prototype.overview = function () {
    var cv = this.el.querySelector('.overview'), w = this.width(), h = 110;
    cv.width = w; cv.height = h;
    cv.style.width = w + 'px';
    var g = cv.getContext('2d');
    var lo = this.byNumber[0].port, hi = this.byNumber[this.byNumber.length - 1].port;
    var self = this;
    var sy = function (p) { return hi > lo ? h - 6 - (p - lo) / (hi - lo) * (h - 12) : h / 2; };
    var sx = function (t) { return LEFT + (t - self.full[0]) / (self.full[1] - self.full[0]) * (w - LEFT - RIGHT); };
    this.ov = { lo: lo, hi: hi, sy: sy };
    g.fillStyle = '#fafafa'; g.fillRect(LEFT, 0, w - LEFT - RIGHT, h);
    g.fillStyle = '#333'; g.font = '11px sans-serif'; g.textAlign = 'right';
    g.fillText(String(hi), LEFT - 6, 10); g.fillText(String(lo), LEFT - 6, h - 2);
    var layers = [[], []];
    this.ports.forEach(function (l) {
      l.pts.forEach(function (i) { layers[P.fl[i] || FAILED[OUT[P.o[i]]] ? 1 : 0].push(i); });
    });
    layers.forEach(function (pts, k) {
      pts.forEach(function (i) {
        g.fillStyle = k === 0 ? 'rgba(120,150,120,.35)' : D.colours[P.o[i]];
        var r = k === 0 ? 1.5 : 2.5;
        g.fillRect(sx(P.t[i]) - r / 2, sy(P.port[i]) - r / 2, r, r);
      });
    });
    g.strokeStyle = '#1a5fb4'; g.lineWidth = 1.5;
    this.shown.forEach(function (l) {
      var y = Math.round(sy(l.port)) + 0.5;
      g.beginPath(); g.moveTo(LEFT - 4, y); g.lineTo(LEFT, y); g.stroke();
      g.beginPath(); g.moveTo(w - RIGHT, y); g.lineTo(w - RIGHT + 4, y); g.stroke();
    });
    if (this.x[0] > this.full[0] || this.x[1] < this.full[1]) {
      g.strokeRect(sx(this.x[0]), 1, Math.max(sx(this.x[1]) - sx(this.x[0]), 1), h - 2);
    }
  };

  Lanes.prototype.overviewClick = function (e) {
    var r = e.target.getBoundingClientRect(), y = e.clientY - r.top;
    var best = null, d = Infinity, ov = this.ov;
    this.ports.forEach(function (l) {
      var dd = Math.abs(ov.sy(l.port) - y) - (l.failed > 0 ? 3 : 0);
      if (dd < d) { d = dd; best = l; }
    });
    if (best) this.showPort(best, -1);
  };

  // ---- the flagged table: every flagged attempt kept, sortable, filterable, paged

  function Table(el) {
    var self = this;
    this.el = el;
    this.all = [];
    for (var i = 0; i < N; i++) if (P.fl[i] === 1) this.all.push(i);
    var num = function (f) { return { sort: f, num: true }; };
    this.cols = [
      { name: 'frame', text: frameText, sort: function (i) { return fileOf('fi', i) * 1e15 + P.f[i]; }, num: true },
      { name: 'time', text: function (i) { return timeText(P.t[i]); }, sort: function (i) { return P.t[i]; }, num: true },
      { name: 'client', text: client, sort: function (i) { return P.c[i] * 70000 + P.port[i]; } },
      { name: 'server', text: function (i) { return D.servers[P.s[i]]; }, sort: function (i) { return D.servers[P.s[i]]; } },
      Object.assign(num(function (i) { return P.rt[i]; }), { name: 'SYN rtx', text: function (i) { return String(P.rt[i]); } }),
      { name: 'outcome', text: function (i) { return OUT[P.o[i]]; }, sort: function (i) { return OUT[P.o[i]]; }, outcome: true }
    ];
    if (D.causes.length) {
      this.cols.push({ name: 'cause', text: function (i) { return P.ca[i] ? D.causes[P.ca[i] - 1] : '-'; }, sort: function (i) { return P.ca[i] ? D.causes[P.ca[i] - 1] : ''; } });
    }
    // Challenge ACKs only when some attempt got one.
    if (this.all.some(function (i) { return P.ch[i] > 0; })) {
      this.cols.push(Object.assign(num(function (i) { return P.ch[i]; }), { name: 'chall. ACKs', text: function (i) { return String(P.ch[i]); } }));
    }
    this.cols.push(
      Object.assign(num(function (i) { return P.pf[i]; }), {
        name: 'prev. conn', tip: 'the earlier connection on the 4-tuple: its first SYN \u2013 its last packet (frames)',
        text: function (i) { return P.pf[i] < 0 ? '-' : prevText(i) + '\u2013' + endText(i); }
      }),
      Object.assign(num(function (i) { return P.g[i]; }), {
        name: 'gap', tip: 'from the earlier connection\'s last packet to this SYN',
        text: function (i) { return P.g[i] < 0 ? '-' : humanSecs(P.g[i]); }
      }),
      { name: 'holder', tip: 'who held TIME_WAIT: the side that sent the first FIN', text: holder, sort: holder }
    );
    this.sortCol = 1; this.dir = 1; this.page = 0; this.size = 50; this.query = ''; this.outcome = '';
    var present = {};
    this.all.forEach(function (i) { present[P.o[i]] = 1; });
    var opts = '<option value="">all outcomes</option>' + OUT.map(function (o, k) {
      return present[k] ? '<option value="' + k + '">' + o + '</option>' : '';
    }).join('');
    el.innerHTML = '<div class="controls"><input type="search" class="q" placeholder="filter: address, port, frame, outcome, holder\u2026">' +
      '<select class="oc">' + opts + '</select><span class="pager"><button type="button" class="first">\u00ab</button><button type="button" class="prev">\u2039</button>' +
      '<span class="range"></span><button type="button" class="next">\u203a</button><button type="button" class="last">\u00bb</button></span>' +
      '<label>rows <select class="size"><option>50</option><option>200</option><option>1000</option></select></label></div>' +
      '<div class="scroll"><table><thead><tr></tr></thead><tbody></tbody></table></div>';
    var q = function (s) { return el.querySelector(s); };
    q('thead tr').innerHTML = this.cols.map(function (c, k) {
      return '<th data-k="' + k + '"' + (c.num ? ' class="r"' : '') + (c.tip ? ' data-tip="' + esc(c.tip) + '"' : '') + '>' + esc(c.name) + '</th>';
    }).join('');
    q('thead').addEventListener('click', function (e) {
      var th = e.target.closest('th');
      if (!th) return;
      var k = +th.getAttribute('data-k');
      self.dir = self.sortCol === k ? -self.dir : 1;
      self.sortCol = k; self.page = 0; self.update();
    });
    q('.q').addEventListener('input', function () { self.query = this.value; self.page = 0; self.update(); });
    q('.oc').addEventListener('change', function () { self.outcome = this.value; self.page = 0; self.update(); });
    q('.size').addEventListener('change', function () { self.size = +this.value; self.page = 0; self.draw(); });
    q('.first').addEventListener('click', function () { self.page = 0; self.draw(); });
    q('.prev').addEventListener('click', function () { self.page--; self.draw(); });
    q('.next').addEventListener('click', function () { self.page++; self.draw(); });
    q('.last').addEventListener('click', function () { self.page = 1e9; self.draw(); });
    q('tbody').addEventListener('click', function (e) {
      var tr = e.target.closest('tr[data-i]');
      if (tr) showInPorts(+tr.getAttribute('data-i'));
    });
    this.update();
  }

  Table.prototype.rowText = function (i) {
    if (!this.texts) this.texts = new Map();
    var t = this.texts.get(i);
    if (t === undefined) {
      t = this.cols.map(function (c) { return c.text(i); }).join(' ').toLowerCase();
      this.texts.set(i, t);
    }
    return t;
  };

  Table.prototype.update = function () {
    var self = this, words = this.query.toLowerCase().split(/\s+/).filter(Boolean);
    var oc = this.outcome === '' ? -1 : +this.outcome;
    this.rows = this.all.filter(function (i) {
      if (oc >= 0 && P.o[i] !== oc) return false;
      if (!words.length) return true;
      var t = self.rowText(i);
      return words.every(function (w) { return t.indexOf(w) >= 0; });
    });
    var col = this.cols[this.sortCol], dir = this.dir;
    var key = new Map();
    this.rows.forEach(function (i) { key.set(i, col.sort(i)); });
    this.rows.sort(function (a, b) {
      var x = key.get(a), y = key.get(b);
      return (x < y ? -1 : x > y ? 1 : P.t[a] - P.t[b]) * dir;
    });
    this.el.querySelectorAll('th').forEach(function (th, k) {
      th.classList.toggle('asc', k === self.sortCol && dir > 0);
      th.classList.toggle('desc', k === self.sortCol && dir < 0);
    });
    this.draw();
  };

  Table.prototype.draw = function () {
    var n = this.rows.length, pages = Math.max(1, Math.ceil(n / this.size));
    this.page = Math.min(Math.max(this.page, 0), pages - 1);
    var from = this.page * this.size, rows = this.rows.slice(from, from + this.size);
    var cols = this.cols, hl = this.hl;
    this.el.querySelector('tbody').innerHTML = rows.map(function (i) {
      return '<tr data-i="' + i + '"' + (i === hl ? ' style="outline:2px solid #e0a000"' : '') + '>' + cols.map(function (c) {
        var t = esc(c.text(i));
        if (c.outcome) return '<td class="oc o-' + t + '" style="background:none">' + t + '</td>';
        return '<td' + (c.num ? ' class="r"' : '') + '>' + t + '</td>';
      }).join('') + '</tr>';
    }).join('');
    var all = this.all.length;
    this.el.querySelector('.range').textContent = n === 0 ? ' no rows ' :
      ' rows ' + thousands(from + 1) + '\u2013' + thousands(from + rows.length) + ' of ' + thousands(n) + (n < all ? ' (of ' + thousands(all) + ')' : '') + ' ';
    var q = this.el.querySelector.bind(this.el);
    q('.first').disabled = q('.prev').disabled = this.page === 0;
    q('.next').disabled = q('.last').disabled = this.page >= pages - 1;
  };

  // From a lane's mark to its row.
  Table.prototype.show = function (i) {
    if (P.fl[i] !== 1) return;
    if (this.rows.indexOf(i) < 0) {
      this.query = ''; this.outcome = '';
      this.el.querySelector('.q').value = '';
      this.el.querySelector('.oc').value = '';
      this.update();
    }
    this.page = Math.floor(this.rows.indexOf(i) / this.size);
    this.hl = i;
    this.draw();
    this.el.scrollIntoView({ block: 'start' });
  };

  // From a row to its lane.
  function showInPorts(i) {
    var chart = charts.find(function (ch) { return ch.c === P.c[i]; });
    if (!chart) return;
    var lane = chart.ports.find(function (l) { return l.port === P.port[i]; });
    if (!lane) return;
    chart.showPort(lane, i);
    chart.el.scrollIntoView({ block: 'start' });
  }

  // ---- start: the lanes, then the table (the methods above are in place by now)
  document.querySelectorAll('.lanes').forEach(function (el) {
    charts.push(new Lanes(el, +el.getAttribute('data-client')));
  });
  var tbox = document.getElementById('flagged-table');
  if (tbox) table = new Table(tbox);

  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { charts.forEach(function (ch) { ch.draw(); }); }, 150);
  });
})();
