// The benchmark's own load client, for what wrk and hey cannot measure: time to first token of
// streams, latency against the platform's own overhead header, and many streams held open at once.
//
//   ttft     --direct URL --platform URL --key K --direct-model M --platform-model M [--floor URL] [--count N] [--warmup-seconds S]
//   overhead --direct URL --platform URL --key K --direct-model M --platform-model M [--count N] [--warmup-seconds S]
//   hold     --platform URL --key K --platform-model M --streams N [--hold-seconds S]
//
// Every request body is unique (a run id and a counter in the message), so the response cache misses.
// Each mode prints one JSON object on its last line.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

var mode = args.Length > 0 ? args[0] : "";
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}
string Option(string name, string? fallback = null) =>
    options.TryGetValue(name, out var value) ? value : fallback ?? throw new ArgumentException($"--{name} is required");
int Number(string name, int fallback) => int.Parse(Option(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

var runId = Guid.NewGuid().ToString("N")[..8];
var counter = 0;
HttpRequestMessage Chat(string url, string model, string? key, bool stream)
{
    var body = $$"""{"model":"{{model}}","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"Benchmark {{runId}} request {{Interlocked.Increment(ref counter)}}"}],"max_tokens":64}""";
    var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
    if (key is not null)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
    }
    return request;
}

using var http = new HttpClient(new SocketsHttpHandler
{
    MaxConnectionsPerServer = int.MaxValue,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
    ConnectTimeout = TimeSpan.FromSeconds(30),
}) { Timeout = Timeout.InfiniteTimeSpan };

switch (mode)
{
    case "ttft":
        await TimeToFirstTokenAsync();
        break;
    case "overhead":
        await OverheadAsync();
        break;
    case "hold":
        await HoldAsync();
        break;
    default:
        Console.Error.WriteLine("usage: ttft | overhead | hold (see the top of Program.cs)");
        return 2;
}
return 0;

// Time from sending a streaming request to its first event, one request at a time, direct to the
// simulator, through the platform and (with --floor) through the two-hop floor in front of the same
// simulator; the platform's addition is the difference of the percentiles, over direct and over the floor.
async Task TimeToFirstTokenAsync()
{
    var count = Number("count", 500);
    var direct = await MeasureAsync(Option("direct"), Option("direct-model"), null, count, stream: true, FirstEventAsync);
    var floor = options.ContainsKey("floor")
        ? await MeasureAsync(Option("floor"), Option("direct-model"), null, count, stream: true, FirstEventAsync)
        : direct;
    var platform = await MeasureAsync(Option("platform"), Option("platform-model"), Option("key"), count, stream: true, FirstEventAsync);
    Print(new
    {
        direct = Summary(direct),
        floor = Summary(floor),
        platform = Summary(platform),
        addedP50Ms = Percentile(platform, 50) - Percentile(direct, 50),
        addedP99Ms = Percentile(platform, 99) - Percentile(direct, 99),
        addedOverFloorP50Ms = Percentile(platform, 50) - Percentile(floor, 50),
        addedOverFloorP99Ms = Percentile(platform, 99) - Percentile(floor, 99),
    });
}

// Whole JSON answers one at a time: the client's latency against the x-agentplatform-overhead-ms the
// platform reports for itself.
async Task OverheadAsync()
{
    var count = Number("count", 500);
    var reported = new List<double>();
    var direct = await MeasureAsync(Option("direct"), Option("direct-model"), null, count, stream: false, WholeAnswerAsync);
    var platform = await MeasureAsync(Option("platform"), Option("platform-model"), Option("key"), count, stream: false, async (response, sent) =>
    {
        var elapsed = await WholeAnswerAsync(response, sent);
        reported.Add(double.Parse(response.Headers.GetValues("x-agentplatform-overhead-ms").Single(), CultureInfo.InvariantCulture));
        return elapsed;
    });
    var added = Percentile(platform, 50) - Percentile(direct, 50);
    var overhead = Percentile(reported.Skip(reported.Count - count).ToList(), 50);
    Print(new { direct = Summary(direct), platform = Summary(platform), addedP50Ms = added, reportedOverheadP50Ms = overhead, reportedToAdded = added > 0 ? overhead / added : 0 });
}

// Opens N streams at once and holds them: prints "ready" when every one has its first event (the
// script then reads the services' memory), keeps them open --hold-seconds, then lets go.
async Task HoldAsync()
{
    var streams = Number("streams", 1000);
    var url = Option("platform");
    var model = Option("platform-model");
    var key = Option("key");
    using var release = new CancellationTokenSource();
    using var connecting = new SemaphoreSlim(Number("connect-concurrency", 200));
    var started = 0;
    var failed = 0;
    var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var clock = Stopwatch.StartNew();
    var tasks = Enumerable.Range(0, streams).Select(async _ =>
    {
        try
        {
            HttpResponseMessage response;
            Stream body;
            await connecting.WaitAsync();
            try
            {
                response = await http.SendAsync(Chat(url, model, key, stream: true), HttpCompletionOption.ResponseHeadersRead, release.Token);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new HttpRequestException($"status {(int)response.StatusCode}");
                }
                body = await response.Content.ReadAsStreamAsync(release.Token);
                await body.ReadAtLeastAsync(new byte[256], 1, throwOnEndOfStream: true, release.Token);
            }
            finally
            {
                connecting.Release();
            }
            if (Interlocked.Increment(ref started) + Volatile.Read(ref failed) == streams)
            {
                ready.TrySetResult();
            }
            using (response)
            await using (body)
            {
                await body.CopyToAsync(Stream.Null, release.Token);
            }
        }
        catch (Exception) when (release.IsCancellationRequested)
        {
            // let go at the end
        }
        catch (Exception exception)
        {
            if (Interlocked.Increment(ref failed) == 1)
            {
                Console.Error.WriteLine($"a stream failed: {exception.Message}");
            }
            if (Volatile.Read(ref started) + Volatile.Read(ref failed) == streams)
            {
                ready.TrySetResult();
            }
        }
    }).ToList();

    await ready.Task.WaitAsync(TimeSpan.FromSeconds(Number("ready-timeout", 300)));
    Console.WriteLine($"ready {started} open, {failed} failed, after {clock.Elapsed.TotalSeconds:0.0} s");
    await Task.Delay(TimeSpan.FromSeconds(Number("hold-seconds", 5)));
    Print(new { streams, open = Volatile.Read(ref started), failed = Volatile.Read(ref failed), rampSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1) });
    release.Cancel();
    await Task.WhenAll(tasks);
}

// Warms up, then times count requests one at a time, each from before its send to what read waits for.
async Task<List<double>> MeasureAsync(string url, string model, string? key, int count, bool stream, Func<HttpResponseMessage, long, Task<double>> read)
{
    // Warmed up for a time, not a number of requests: the stream path's code is still unoptimised after
    // the JSON scenarios, and 50 streams measured it half-compiled (3.8 ms added at p50, 1.1–1.3 warm).
    var warmUntil = Stopwatch.GetTimestamp() + (long)(Number("warmup-seconds", 5) * Stopwatch.Frequency);
    for (var i = 0; i < Math.Max(20, count / 10) || Stopwatch.GetTimestamp() < warmUntil; i++)
    {
        using var warmUp = await http.SendAsync(Chat(url, model, key, stream), HttpCompletionOption.ResponseHeadersRead);
        await read(warmUp, Stopwatch.GetTimestamp());
    }
    var times = new List<double>(count);
    for (var i = 0; i < count; i++)
    {
        var sent = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(Chat(url, model, key, stream), HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"{url} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
        times.Add(await read(response, sent));
    }
    return times;
}

// Milliseconds from the send to the stream's first event (the rest is read, untimed).
static async Task<double> FirstEventAsync(HttpResponseMessage response, long sent)
{
    await using var body = await response.Content.ReadAsStreamAsync();
    var buffer = new byte[4096];
    await body.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: true);
    var elapsed = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
    await body.CopyToAsync(Stream.Null);
    return elapsed;
}

// Milliseconds from the send to the answer's last byte.
static async Task<double> WholeAnswerAsync(HttpResponseMessage response, long sent)
{
    await response.Content.CopyToAsync(Stream.Null);
    return Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
}

static double Percentile(List<double> values, double percentile)
{
    var sorted = values.Order().ToList();
    var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count) - 1;
    return Math.Round(sorted[Math.Clamp(rank, 0, sorted.Count - 1)], 3);
}

static object Summary(List<double> values) => new { p50Ms = Percentile(values, 50), p99Ms = Percentile(values, 99) };

static void Print(object result) => Console.WriteLine(JsonSerializer.Serialize(result));
