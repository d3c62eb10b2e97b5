// gen's shared session library for require> (see gen/expressions.py): plain ECMAScript 5, which both of
// Digdag's engines run. Evaluated by `eval(gen_sessions)`, it gives an object of two functions:
//   at(session_time, ops, [n, unit], i)  the i-th required upstream session time
//   count(session_time, ops, [n, unit], bound_ops, late_ms)  how many there are
// ops: a zone name switches zone; [n, unit] shifts by n calendar units in that zone; [unit, step,
// weekday, monthday, phase minutes] goes back to the latest point of that grid. Z (gen_tz) maps each zone
// to [offset at 1990, [epoch ms, offset], ...], offsets in minutes.
(function () {
var Z = gen_tz;
function off(z, t) { var tb = Z[z], o = tb[0]; for (var k = 1; k < tb.length && tb[k][0] <= t; k++) { o = tb[k][1]; } return o; }
function wall(z, t) { return t + off(z, t) * 60000; }
function inst(z, w) { return w - off(z, w - off(z, w) * 60000) * 60000; }
function mod(a, b) { return ((a % b) + b) % b; }
function cal(w, n, u) {
  var d = new Date(w);
  if (u === 'days') { d.setUTCDate(d.getUTCDate() + n); return d.getTime(); }
  if (u === 'weeks') { d.setUTCDate(d.getUTCDate() + 7 * n); return d.getTime(); }
  var day = d.getUTCDate();
  d.setUTCDate(1); d.setUTCMonth(d.getUTCMonth() + n);
  d.setUTCDate(Math.min(day, new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate()));
  return d.getTime();
}
function shift(z, t, n, u) {
  if (u === 'minutes') { return t + n * 60000; }
  if (u === 'hours') { return t + n * 3600000; }
  return inst(z, cal(wall(z, t), n, u));
}
function base(u, st, wd, md, y) {
  if (u === 'minute') { return y - mod(y, 60000) - (mod(Math.floor(y / 60000), 60) % st) * 60000; }
  if (u === 'hour') { return y - mod(y, 3600000); }
  var m = y - mod(y, 86400000);
  if (u === 'day') { return m; }
  if (u === 'week') { return m - mod(new Date(m).getUTCDay() - wd, 7) * 86400000; }
  if (new Date(m).getUTCDate() < md) { m = cal(m, -1, 'months'); }
  var dm = new Date(m);
  return Date.UTC(dm.getUTCFullYear(), dm.getUTCMonth(), md);
}
function floor(z, t, u, st, wd, md, ph) {
  var w = wall(z, t), f = base(u, st, wd, md, w) + ph * 60000;
  if (ph && f > w) { f = base(u, st, wd, md, u === 'hour' ? w - 3600000 : cal(w, -1, u + 's')) + ph * 60000; }
  return (u === 'minute' || u === 'hour') ? f - off(z, t) * 60000 : inst(z, f);
}
function run(ops, t) {
  var z = 'UTC';
  for (var k = 0; k < ops.length; k++) {
    var op = ops[k];
    if (typeof op === 'string') { z = op; }
    else if (typeof op[0] === 'number') { t = shift(z, t, op[0], op[1]); }
    else { t = floor(z, t, op[0], op[1], op[2], op[3], op[4]); }
  }
  return [z, t];
}
function pad(n) { return (n < 10 ? '0' : '') + n; }
function fmt(z, t) {
  var o = off(z, t), d = new Date(t + o * 60000), a = Math.abs(o);
  return d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + 'T' + pad(d.getUTCHours())
    + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + (o < 0 ? '-' : '+') + pad(Math.floor(a / 60)) + ':' + pad(a % 60);
}
return {
  at: function (session, ops, step, i) {
    var first = run(ops, moment(session).valueOf());
    return fmt(first[0], shift(first[0], first[1], step[0] * i, step[1]));
  },
  count: function (session, ops, step, bound, late) {
    var t0 = moment(session).valueOf(), first = run(ops, t0);
    var limit = Math.min(run(bound, t0)[1], t0 + late), n = 0;
    while (shift(first[0], first[1], n * step[0], step[1]) < limit) { n++; }
    return n;
  }
};
})()
