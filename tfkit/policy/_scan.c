/* The hot loops of the built-in policy pack in C: one pass over each JSON value, no copies.
   Optional: without a C compiler tfkit builds without it and runs the Python forms of both functions.

   tag_gaps(values, paths, keys): for TFK006, see tfkit/policy/_tags.py.

   The secret pre-filter of tfkit.policy._detect:

   suspects(values, masks, unknowns, needles, keywords, run_chars, escaped_chars, min_run) -> list[int]

   values, masks and unknowns (or None) are sequences of the same length of objects with the buffer
   protocol (msgspec.Raw, bytes): each resource change's `after` JSON text, its `after_sensitive` mask and
   its `after_unknown` (which attributes are known only after apply: `after` leaves them out, but the mask
   still marks the sensitive ones). The result is the
   indices of the values that may hold a secret-looking clear string, in order; the policies decode only
   those. The rules are _detect's (its docstrings are the specification; the constants come from there):

   - a value whose mask is `true` is skipped (nothing in it is shown);
   - a string value (not an object key) with a run of `min_run` or more bytes of `run_chars` (an escaped
     slash, `\/`, counts as a slash), holding one of `needles`, or holding a URL with a password
     (`://user:password@`, slashes possibly escaped);
   - a string or key with a `\u00XX` escape of one of `escaped_chars` (what token runs, needles, URLs and
     keywords are made of: JSON may spell any character so; Terraform never does, so these are rare);
   - an object key whose lower-case text holds one of `keywords` and that appears in the value more
     often than the mask marks it `true`, less the times `after_unknown` marks it (those marks are for
     attributes `after` leaves out); keys are compared as spelled, escapes included. Terraform writes a
     mark for every sensitive attribute, known or not, so one of them is then in the clear.

   The input is valid JSON (msgspec has parsed it), so strings are read by their quotes and escapes. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_WORDS 64

typedef struct {
    const unsigned char *at;
    Py_ssize_t size;
} Text;

/* What a byte of a string may start or continue (Rules.kind); MEANINGFUL: a byte whose \u00XX escape
   makes the string a suspect (it could hide a token run, a needle, a URL or a keyword). */
enum { RUN = 1, NEEDLE = 2, COLON = 4, BACKSLASH = 8, MEANINGFUL = 16 };

typedef struct {
    unsigned char kind[256];       /* RUN for token run bytes, NEEDLE for a needle's first byte, ... */
    unsigned char key_pair[65536]; /* 1 for the first two bytes of a keyword, in either case */
    Py_ssize_t min_run;
    Text needles[MAX_WORDS];
    Py_ssize_t needle_count;
    Text keywords[MAX_WORDS];
    Py_ssize_t keyword_count;
} Rules;

/* The keys of the last mask read, kept with a copy of that mask's text: consecutive changes (the
   instances of one block) share their mask, so it is parsed once per run. */
typedef struct {
    unsigned char *text; /* a copy of the mask */
    Py_ssize_t size;
    Py_ssize_t text_capacity;
    Text *keys; /* the keys it marks true, as spelled (pointing into text) */
    Py_ssize_t count;
    Py_ssize_t capacity;
    int parsed;
} MaskKeys;

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const unsigned char *skip_space(const unsigned char *p, const unsigned char *end) {
    while (p < end && is_space(*p)) p++;
    return p;
}

/* The closing quote of the string whose content starts at p (after its opening quote), or end.
   Strings are short: a plain loop beats memchr's call. Sets *escaped if the string holds an escape. */
static inline const unsigned char *string_end(const unsigned char *p, const unsigned char *end, int *escaped) {
    while (p < end) {
        if (*p == '"') return p;
        if (*p == '\\') {
            *escaped = 1;
            p += p + 1 < end ? 2 : 1;
        } else {
            p++;
        }
    }
    return end;
}

static int contains_folded(const Rules *rules, Text key) {
    for (Py_ssize_t i = 0; i + 1 < key.size; i++) {
        if (!rules->key_pair[key.at[i] << 8 | key.at[i + 1]]) continue;
        for (Py_ssize_t k = 0; k < rules->keyword_count; k++) {
            Text word = rules->keywords[k];
            if (word.size > key.size - i) continue;
            Py_ssize_t j = 0;
            while (j < word.size && Py_TOLOWER(key.at[i + j]) == word.at[j]) j++;
            if (j == word.size) return 1;
        }
    }
    return 0;
}

/* The bytes a URL's user and password are made of: not a quote, slash, at sign or white space. */
static int url_byte(unsigned char c) {
    return c != '"' && c != '/' && c != '@' && c != ' ' && c != '\t' && c != '\n' && c != '\r' &&
           c != '\f' && c != '\v';
}

/* `://user:password@` (or `:\\/\\/...`) right after the colon at s.at[at]. */
static int url_password_at(Text s, Py_ssize_t at) {
    const unsigned char *q = s.at + at + 1, *end = s.at + s.size;
    for (int slashes = 0; slashes < 2; slashes++) {
        if (q < end && *q == '/') q++;
        else if (q + 1 < end && *q == '\\' && q[1] == '/') q += 2;
        else return 0;
    }
    const unsigned char *start = q, *colon = NULL;
    while (q < end) {
        if (*q == '\\' && q + 1 < end && q[1] != '/') { /* an escaped byte (\" too) is part of them */
            q += 2;
            continue;
        }
        if (!url_byte(*q)) break;
        if (*q == ':' && q > start && colon == NULL) colon = q;
        q++;
    }
    /* a colon with a byte before it and one after it, then the at sign */
    return q < end && *q == '@' && colon != NULL && q - colon >= 2;
}

static int hex_digit(unsigned char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The escape at p (a backslash) spells, as \u00XX, a byte that matters to the scan. */
static int meaningful_escape(const Rules *rules, const unsigned char *p, const unsigned char *end) {
    if (end - p < 6 || p[1] != 'u' || p[2] != '0' || p[3] != '0') return 0;
    int high = hex_digit(p[4]), low = hex_digit(p[5]);
    return high >= 0 && low >= 0 && (rules->kind[high << 4 | low] & MEANINGFUL);
}

static int needle_at(const Rules *rules, Text s, Py_ssize_t at) {
    for (Py_ssize_t k = 0; k < rules->needle_count; k++) {
        Text needle = rules->needles[k];
        if (needle.size <= s.size - at && memcmp(s.at + at, needle.at, (size_t)needle.size) == 0) return 1;
    }
    return 0;
}

static int same_text(Text a, Text b) {
    return a.size == b.size && (a.at == b.at || memcmp(a.at, b.at, (size_t)a.size) == 0);
}

static int mask_is_true(Text mask) {
    const unsigned char *p = skip_space(mask.at, mask.at + mask.size);
    const unsigned char *end = mask.at + mask.size;
    while (end > p && is_space(end[-1])) end--;
    return end - p == 4 && memcmp(p, "true", 4) == 0;
}

static int grow(void **array, Py_ssize_t *capacity, Py_ssize_t needed, size_t item) {
    if (needed <= *capacity) return 0;
    Py_ssize_t size = *capacity ? *capacity : 16;
    while (size < needed) size *= 2;
    void *larger = PyMem_Realloc(*array, (size_t)size * item);
    if (larger == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *array = larger;
    *capacity = size;
    return 0;
}

/* The keys a mask marks `true`, read into the cache unless it holds them already. -1 on failure. */
static int read_mask(MaskKeys *cache, Text mask) {
    if (cache->parsed && same_text((Text){cache->text, cache->size}, mask)) return 0;
    cache->parsed = 0;
    if (grow((void **)&cache->text, &cache->text_capacity, mask.size + 1, 1) < 0) return -1;
    if (mask.size) memcpy(cache->text, mask.at, (size_t)mask.size);
    cache->size = mask.size;
    cache->count = 0;
    const unsigned char *p = cache->text, *end = cache->text + cache->size;
    while (p < end && (p = memchr(p, '"', (size_t)(end - p))) != NULL) {
        int escaped = 0;
        const unsigned char *close = string_end(p + 1, end, &escaped);
        Text key = {p + 1, close - p - 1};
        p = close + (close < end);
        const unsigned char *q = skip_space(p, end);
        if (q >= end || *q != ':') continue;
        q = skip_space(q + 1, end);
        if (end - q < 4 || memcmp(q, "true", 4) != 0) continue;
        if (grow((void **)&cache->keys, &cache->capacity, cache->count + 1, sizeof(Text)) < 0) return -1;
        cache->keys[cache->count++] = key;
    }
    cache->parsed = 1;
    return 0;
}

/* How many times the mask marks `key` true (at any path). */
static Py_ssize_t times_masked(const MaskKeys *cache, Text key) {
    Py_ssize_t times = 0;
    for (Py_ssize_t i = 0; i < cache->count; i++) times += same_text(cache->keys[i], key);
    return times;
}

/* The credential-named keys seen so far in one value, with how often. */
typedef struct {
    Text keys[MAX_WORDS];
    Py_ssize_t times[MAX_WORDS];
    Py_ssize_t count;
} SeenKeys;

/* One more sighting of `key`; how many so far (0 when the table is full: the caller then gives up). */
static Py_ssize_t seen_again(SeenKeys *seen, Text key) {
    for (Py_ssize_t i = 0; i < seen->count; i++) {
        if (same_text(seen->keys[i], key)) return ++seen->times[i];
    }
    if (seen->count == MAX_WORDS) return 0;
    seen->keys[seen->count] = key;
    seen->times[seen->count] = 1;
    return seen->count++, 1;
}

/* The mask of one value, acquired only if the value needs it (most clean values never do). */
typedef struct {
    PyObject *object;
    Py_buffer view;
    int acquired;
} LazyMask;

static int mask_text(LazyMask *mask, Text *out) {
    if (!mask->acquired) {
        if (PyObject_GetBuffer(mask->object, &mask->view, PyBUF_SIMPLE) < 0) return -1;
        mask->acquired = 1;
    }
    *out = (Text){mask->view.buf, mask->view.len};
    return 0;
}

/* How many of a key's sightings its mask covers: its `true` marks, less those of attributes left out. */
static int covered(LazyMask *mask, MaskKeys *masks, LazyMask *unknown, MaskKeys *unknowns, Text key,
                   Py_ssize_t *times) {
    Text text;
    if (mask_text(mask, &text) < 0 || read_mask(masks, text) < 0) return -1;
    *times = times_masked(masks, key);
    if (*times && unknown->object != Py_None) {
        if (mask_text(unknown, &text) < 0 || read_mask(unknowns, text) < 0) return -1;
        *times -= times_masked(unknowns, key);
    }
    return 0;
}

/* One pass over a value's text. 1 if it is a suspect, 0 if not, -1 with an exception set. */
static int suspect_value(const Rules *rules, Text value, LazyMask *mask, MaskKeys *cache, LazyMask *unknown,
                         MaskKeys *unknown_cache) {
    const unsigned char *p = value.at, *end = value.at + value.size;
    const Py_ssize_t min_run = rules->min_run;
    const int slash_runs = rules->kind['/'] & RUN;
    int found = 0; /* a suspect string: the value is a suspect unless its mask is `true` */
    SeenKeys seen;
    seen.count = 0;
    while (p < end) {
        if (*p++ != '"') continue;
        const unsigned char *start = p;
        Py_ssize_t run = 0;
        int hit = 0, hidden = 0; /* hidden: a meaningful byte written as an escape */
        while (p < end && *p != '"') {
            unsigned char kind = rules->kind[*p];
            if (kind & RUN) {
                hit |= ++run >= min_run;
                if ((kind & NEEDLE) && needle_at(rules, (Text){start, end - start}, p - start)) hit = 1;
            } else if (kind & BACKSLASH) { /* an escape: JSON may write a slash as \/ */
                run = (p + 1 < end && p[1] == '/' && slash_runs) ? run + 1 : 0;
                hit |= run >= min_run;
                hidden |= meaningful_escape(rules, p, end);
                p += p + 1 < end ? 2 : 1;
                continue;
            } else {
                run = 0;
                if ((kind & NEEDLE) && needle_at(rules, (Text){start, end - start}, p - start)) hit = 1;
                if ((kind & COLON) && url_password_at((Text){start, end - start}, p - start)) hit = 1;
            }
            p++;
        }
        Text s = {start, (p < end ? p : end) - start};
        p++;
        const unsigned char *next = skip_space(p, end);
        found |= hidden;
        if (next < end && *next == ':') {
            if (!contains_folded(rules, s)) continue;
            Text text;
            Py_ssize_t times = seen_again(&seen, s), masked_times;
            if (mask_text(mask, &text) < 0) return -1;
            if (mask_is_true(text)) return 0;
            if (covered(mask, cache, unknown, unknown_cache, s, &masked_times) < 0) return -1;
            if (times == 0 || times > masked_times) return 1;
        } else {
            found |= hit;
        }
    }
    if (!found) return 0;
    Text text;
    if (mask_text(mask, &text) < 0) return -1;
    return !mask_is_true(text);
}

/* The bytes in a tuple (which keeps them alive for the whole call: the Text points into them). */
static int read_words(PyObject *words, Text *out, Py_ssize_t most, Py_ssize_t *count, const char *what) {
    if (!PyTuple_Check(words)) {
        PyErr_Format(PyExc_TypeError, "%s must be a tuple of bytes", what);
        return -1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(words);
    if (n > most) {
        PyErr_Format(PyExc_ValueError, "at most %zd %s", most, what);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *word = PyTuple_GET_ITEM(words, i);
        if (!PyBytes_Check(word)) {
            PyErr_Format(PyExc_TypeError, "%s must be a tuple of bytes", what);
            return -1;
        }
        out[i].at = (const unsigned char *)PyBytes_AS_STRING(word);
        out[i].size = PyBytes_GET_SIZE(word);
    }
    *count = n;
    return 0;
}

static PyObject *scan_all(Rules *rules, PyObject *values, PyObject *masks, PyObject *unknowns,
                          PyObject *needles, PyObject *keywords, const Py_buffer *run_chars,
                          const Py_buffer *escaped_chars, Py_ssize_t min_run);

static PyObject *suspects(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *values, *masks, *unknowns, *needles, *keywords;
    Py_buffer run_chars, escaped_chars;
    Py_ssize_t min_run;
    if (!PyArg_ParseTuple(args, "OOOOOy*y*n:suspects", &values, &masks, &unknowns, &needles, &keywords,
                          &run_chars, &escaped_chars, &min_run))
        return NULL;
    Rules *rules = PyMem_Calloc(1, sizeof(Rules)); /* 66 kB: not for a thread's stack */
    PyObject *found = rules == NULL ? PyErr_NoMemory()
                                    : scan_all(rules, values, masks, unknowns, needles, keywords, &run_chars,
                                               &escaped_chars, min_run);
    PyBuffer_Release(&run_chars);
    PyBuffer_Release(&escaped_chars);
    PyMem_Free(rules);
    return found;
}

/* suspects() once its arguments are read; NULL with an exception on failure. */
static PyObject *scan_all(Rules *rules, PyObject *values, PyObject *masks, PyObject *unknowns,
                          PyObject *needles, PyObject *keywords, const Py_buffer *run_chars,
                          const Py_buffer *escaped_chars, Py_ssize_t min_run) {
    rules->min_run = min_run < 1 ? 1 : min_run;
    for (Py_ssize_t i = 0; i < run_chars->len; i++) rules->kind[((unsigned char *)run_chars->buf)[i]] |= RUN;
    rules->kind[':'] |= COLON;
    rules->kind['\\'] |= BACKSLASH;
    for (Py_ssize_t i = 0; i < escaped_chars->len; i++)
        rules->kind[((unsigned char *)escaped_chars->buf)[i]] |= MEANINGFUL;
    if (read_words(needles, rules->needles, MAX_WORDS, &rules->needle_count, "needles") < 0 ||
        read_words(keywords, rules->keywords, MAX_WORDS, &rules->keyword_count, "keywords") < 0)
        return NULL;
    for (Py_ssize_t k = 0; k < rules->needle_count; k++) {
        if (rules->needles[k].size == 0) {
            PyErr_SetString(PyExc_ValueError, "needles must not be empty");
            return NULL;
        }
        rules->kind[rules->needles[k].at[0]] |= NEEDLE;
    }
    for (Py_ssize_t k = 0; k < rules->keyword_count; k++) {
        const unsigned char *word = rules->keywords[k].at;
        if (rules->keywords[k].size < 2) {
            PyErr_SetString(PyExc_ValueError, "keywords must be two bytes or longer");
            return NULL;
        }
        unsigned char firsts[2] = {Py_TOLOWER(word[0]), Py_TOUPPER(word[0])};
        unsigned char seconds[2] = {Py_TOLOWER(word[1]), Py_TOUPPER(word[1])};
        for (int x = 0; x < 2; x++) {
            for (int y = 0; y < 2; y++) rules->key_pair[firsts[x] << 8 | seconds[y]] = 1;
        }
    }

    PyObject *value_seq = PySequence_Fast(values, "values must be a sequence");
    if (value_seq == NULL) return NULL;
    PyObject *mask_seq = PySequence_Fast(masks, "masks must be a sequence");
    PyObject *unknown_seq = unknowns == Py_None ? Py_NewRef(Py_None)
                                                : PySequence_Fast(unknowns, "unknowns must be a sequence or None");
    PyObject *found = NULL;
    MaskKeys cache = {NULL, 0, 0, NULL, 0, 0, 0}, unknown_cache = {NULL, 0, 0, NULL, 0, 0, 0};
    Py_ssize_t count = PySequence_Fast_GET_SIZE(value_seq);
    if (mask_seq == NULL || unknown_seq == NULL) goto done;
    if (PySequence_Fast_GET_SIZE(mask_seq) != count ||
        (unknown_seq != Py_None && PySequence_Fast_GET_SIZE(unknown_seq) != count)) {
        PyErr_SetString(PyExc_ValueError, "values, masks and unknowns differ in length");
        goto done;
    }
    found = PyList_New(0);
    if (found == NULL) goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i >= PySequence_Fast_GET_SIZE(value_seq) || i >= PySequence_Fast_GET_SIZE(mask_seq) ||
            (unknown_seq != Py_None && i >= PySequence_Fast_GET_SIZE(unknown_seq))) {
            PyErr_SetString(PyExc_RuntimeError, "values, masks or unknowns changed during the scan");
            Py_CLEAR(found);
            break;
        }
        /* strong references, so that nothing a buffer's exporter does can free an item under us */
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(value_seq, i));
        LazyMask mask = {Py_NewRef(PySequence_Fast_GET_ITEM(mask_seq, i)), {0}, 0};
        LazyMask unknown = {
            Py_NewRef(unknown_seq == Py_None ? Py_None : PySequence_Fast_GET_ITEM(unknown_seq, i)), {0}, 0};
        Py_buffer value;
        int verdict = -1;
        if (PyObject_GetBuffer(item, &value, PyBUF_SIMPLE) == 0) {
            verdict = suspect_value(rules, (Text){value.buf, value.len}, &mask, &cache, &unknown, &unknown_cache);
            PyBuffer_Release(&value);
        }
        if (mask.acquired) PyBuffer_Release(&mask.view);
        if (unknown.acquired) PyBuffer_Release(&unknown.view);
        Py_DECREF(item);
        Py_DECREF(mask.object);
        Py_DECREF(unknown.object);
        if (verdict < 0) {
            Py_CLEAR(found);
            break;
        }
        if (verdict) {
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(found, index) < 0) {
                Py_XDECREF(index);
                Py_CLEAR(found);
                break;
            }
            Py_DECREF(index);
        }
    }
done:
    PyMem_Free(cache.text);
    PyMem_Free(cache.keys);
    PyMem_Free(unknown_cache.text);
    PyMem_Free(unknown_cache.keys);
    Py_DECREF(value_seq);
    Py_XDECREF(mask_seq);
    Py_XDECREF(unknown_seq);
    return found;
}

/* ------------------------------------------------------------------------------------ tag gaps */

#define MAX_PATHS 16
#define MAX_STEPS 8
#define MAX_KEYS 62

typedef struct {
    Text steps[MAX_PATHS][MAX_STEPS];
    int depth[MAX_PATHS];
    int path_count;
    Text keys[MAX_KEYS];
    int key_count;
} Gaps;

/* What one value's walk found for each path: not checked (no object there), or the keys missing. */
typedef struct {
    int checked[MAX_PATHS];
    unsigned long long missing[MAX_PATHS];
    int unsure; /* a key with an escape on the way: Python decodes this value instead */
} Walk;

/* The end of the JSON value that starts at p, or end if the text is cut short. */
static const unsigned char *skip_value(const unsigned char *p, const unsigned char *end) {
    p = skip_space(p, end);
    if (p >= end) return end;
    int escaped = 0;
    if (*p == '"') {
        const unsigned char *close = string_end(p + 1, end, &escaped);
        return close < end ? close + 1 : end;
    }
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_space(*p)) p++;
        return p;
    }
    Py_ssize_t depth = 0;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') {
            p = string_end(p + 1, end, &escaped);
            if (p >= end) return end;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            return p + 1;
        }
        p++;
    }
    return end;
}

/* A walk over the members of one JSON object. */
typedef struct {
    const unsigned char *p, *end;
} Members;

/* The next member's key (and whether it holds an escape) and where its value starts; 0 after the last. */
static int next_member(Members *m, Text *key, int *escaped, const unsigned char **value) {
    m->p = skip_space(m->p, m->end);
    if (m->p < m->end && *m->p == ',') m->p = skip_space(m->p + 1, m->end);
    if (m->p >= m->end || *m->p != '"') return 0;
    *escaped = 0;
    const unsigned char *close = string_end(m->p + 1, m->end, escaped);
    *key = (Text){m->p + 1, close - m->p - 1};
    const unsigned char *colon = skip_space(close + (close < m->end), m->end);
    if (colon >= m->end || *colon != ':') return 0;
    *value = skip_space(colon + 1, m->end);
    return 1;
}

/* The end of an object whose members were all read. */
static const unsigned char *object_end(const Members *m) { return m->p < m->end ? m->p + 1 : m->end; }

/* The required keys the object at p ('{') lacks, as bits; returns the end of the object. */
static const unsigned char *missing_keys(const Gaps *gaps, const unsigned char *p, const unsigned char *end,
                                         Walk *walk, unsigned long long *missing) {
    unsigned long long found = 0;
    Members members = {p + 1, end};
    Text key;
    int escaped;
    const unsigned char *value;
    while (next_member(&members, &key, &escaped, &value)) {
        walk->unsure |= escaped;
        for (int k = 0; k < gaps->key_count; k++) {
            if (same_text(key, gaps->keys[k])) found |= 1ULL << k;
        }
        members.p = skip_value(value, end);
    }
    *missing = ((1ULL << gaps->key_count) - 1) & ~found;
    return object_end(&members);
}

/* Walk the object at p ('{') at depth `level` of the paths in `active` (a bit set of path numbers);
   returns the end of the object. */
static const unsigned char *walk_object(const Gaps *gaps, const unsigned char *p, const unsigned char *end,
                                        int level, unsigned int active, Walk *walk) {
    Members members = {p + 1, end};
    Text key;
    int escaped;
    const unsigned char *value;
    while (next_member(&members, &key, &escaped, &value)) {
        walk->unsure |= escaped;
        unsigned int deeper = 0;
        const unsigned char *after = NULL; /* the end of the value, once read */
        int object = value < end && *value == '{';
        for (int i = 0; i < gaps->path_count; i++) {
            if (!(active & (1u << i)) || !same_text(key, gaps->steps[i][level])) continue;
            if (gaps->depth[i] > level + 1) {
                deeper |= 1u << i;
                continue;
            }
            walk->checked[i] = object; /* the path ends here: the last such member counts */
            walk->missing[i] = 0;
            if (object) after = missing_keys(gaps, value, end, walk, &walk->missing[i]);
        }
        for (int i = 0; i < gaps->path_count; i++) { /* a later duplicate key replaces what an earlier one gave */
            if (deeper & (1u << i)) walk->checked[i] = 0;
        }
        if (deeper && object) after = walk_object(gaps, value, end, level + 1, deeper, walk);
        members.p = after != NULL ? after : skip_value(value, end);
    }
    return object_end(&members);
}

static int read_path(PyObject *path, Text *steps, int *depth) {
    Py_ssize_t n = 0;
    if (read_words(path, steps, MAX_STEPS, &n, "path steps") < 0) return -1;
    if (n < 1) {
        PyErr_Format(PyExc_ValueError, "a path has 1 to %d steps", MAX_STEPS);
        return -1;
    }
    *depth = (int)n;
    return 0;
}

static PyObject *tag_gaps(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *values, *paths, *keys;
    if (!PyArg_ParseTuple(args, "OO!O!:tag_gaps", &values, &PyTuple_Type, &paths, &PyTuple_Type, &keys))
        return NULL;
    Gaps gaps;
    memset(&gaps, 0, sizeof gaps);
    if (PyTuple_GET_SIZE(paths) > MAX_PATHS) {
        PyErr_Format(PyExc_ValueError, "at most %d paths", MAX_PATHS);
        return NULL;
    }
    gaps.path_count = (int)PyTuple_GET_SIZE(paths);
    for (int i = 0; i < gaps.path_count; i++) {
        if (read_path(PyTuple_GET_ITEM(paths, i), gaps.steps[i], &gaps.depth[i]) < 0) return NULL;
    }
    Py_ssize_t key_count = 0;
    if (read_words(keys, gaps.keys, MAX_KEYS, &key_count, "keys") < 0) return NULL;
    gaps.key_count = (int)key_count;

    PyObject *value_seq = PySequence_Fast(values, "values must be a sequence");
    if (value_seq == NULL) return NULL;
    /* three lists of ints, not a list of tuples: 20k tuples kept alive would set the garbage collector off */
    PyObject *indices = PyList_New(0), *path_numbers = PyList_New(0), *missing = PyList_New(0);
    int ok = indices != NULL && path_numbers != NULL && missing != NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(value_seq);
    for (Py_ssize_t i = 0; ok && i < count && i < PySequence_Fast_GET_SIZE(value_seq); i++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(value_seq, i)); /* see scan_all() */
        Py_buffer view;
        int got = PyObject_GetBuffer(item, &view, PyBUF_SIMPLE);
        Py_DECREF(item); /* the buffer keeps what it needs alive */
        if (got < 0) {
            ok = 0;
            break;
        }
        const unsigned char *p = view.buf, *end = p + view.len;
        p = skip_space(p, end);
        Walk walk;
        memset(&walk, 0, sizeof walk);
        if (p < end && *p == '{') walk_object(&gaps, p, end, 0, (1u << gaps.path_count) - 1, &walk);
        PyBuffer_Release(&view);
        for (int path = 0; ok && path < gaps.path_count; path++) {
            if (!walk.unsure && !(walk.checked[path] && walk.missing[path])) continue;
            PyObject *index = PyLong_FromSsize_t(i);
            PyObject *number = PyLong_FromLong(walk.unsure ? -1 : path);
            PyObject *bits = PyLong_FromUnsignedLongLong(walk.unsure ? 0 : walk.missing[path]);
            ok = index != NULL && number != NULL && bits != NULL && PyList_Append(indices, index) == 0 &&
                 PyList_Append(path_numbers, number) == 0 && PyList_Append(missing, bits) == 0;
            Py_XDECREF(index);
            Py_XDECREF(number);
            Py_XDECREF(bits);
            if (walk.unsure) break;
        }
    }
    Py_DECREF(value_seq);
    PyObject *result = ok ? PyTuple_Pack(3, indices, path_numbers, missing) : NULL;
    Py_XDECREF(indices);
    Py_XDECREF(path_numbers);
    Py_XDECREF(missing);
    return result;
}

static PyMethodDef methods[] = {
    {"suspects", suspects, METH_VARARGS,
     "suspects(values, masks, unknowns, needles, keywords, run_chars, escaped_chars, min_run) -> list[int]\n\n"
     "Indices of the JSON values that may hold a secret-looking clear string (see tfkit.policy._detect)."},
    {"tag_gaps", tag_gaps, METH_VARARGS,
     "tag_gaps(values, paths, keys) -> (indices, path_numbers, missing)\n\n"
     "For each JSON object found at one of the paths that lacks one of the keys: the value's index, the path's\n"
     "and the bit set of the keys missing; path -1 for a value with escaped keys (see tfkit.policy._tags)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tfkit.policy._scan",
    .m_doc = "The hot loops of the built-in policy pack in C (optional: tfkit falls back to Python).",
    .m_size = -1,
    .m_methods = methods,
};

/* The limits of tag_gaps, for callers to check before they call it. */
PyMODINIT_FUNC PyInit__scan(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && (PyModule_AddIntConstant(m, "MAX_PATHS", MAX_PATHS) < 0 ||
                      PyModule_AddIntConstant(m, "MAX_STEPS", MAX_STEPS) < 0 ||
                      PyModule_AddIntConstant(m, "MAX_KEYS", MAX_KEYS) < 0)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
