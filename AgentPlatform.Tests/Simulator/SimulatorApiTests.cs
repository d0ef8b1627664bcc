using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Simulator;

/// <summary>The simulator over real HTTP: its wire formats, its timing and every fault kind.</summary>
public sealed class SimulatorApiTests : IAsyncLifetime
{
    private KestrelApp<SimulatorOptions> _simulator = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        _simulator = new KestrelApp<SimulatorOptions>(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Simulator:OutputTokens"] = "6",
            ["Simulator:TokenIntervalMs"] = "20",
            ["Simulator:StallMs"] = "1500",
        }).Start();
        _client = _simulator.CreateHttpClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _simulator.DisposeAsync();
    }

    [Fact]
    public async Task Tokens_are_streamed_one_per_chunk_at_the_configured_interval()
    {
        var sent = Stopwatch.GetTimestamp();
        using var response = await PostStreamAsync();
        await using var stream = await response.Content.ReadAsStreamAsync();
        var arrivals = new List<long>();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync())
        {
            arrivals.Add(Stopwatch.GetTimestamp());
        }

        // role chunk + 6 tokens + finish + [DONE]; the tokens are spread over 5 intervals, not sent at once.
        // Timed from the request, not between arrivals: a busy test machine may read chunks in a bunch.
        Assert.Equal(9, arrivals.Count);
        Assert.True(Stopwatch.GetElapsedTime(sent, arrivals[^1]) >= TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task Models_lists_the_simulated_model()
    {
        var models = await _client.GetFromJsonAsync<JsonElement>("/v1/models");

        Assert.Equal("sim-model", models.GetProperty("data")[0].GetProperty("id").GetString());
    }

    [Fact]
    public async Task Fault_500_answers_an_openai_error()
    {
        await SetFaultAsync("500");

        using var response = await _client.PostAsync("/v1/chat/completions", Json.Chat());

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        await Json.ReadErrorAsync(response);
    }

    [Fact]
    public async Task Fault_429_says_when_to_retry()
    {
        await SetFaultAsync("429");

        using var response = await _client.PostAsync("/v1/chat/completions", Json.Chat());

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task Fault_timeout_never_answers()
    {
        await SetFaultAsync("timeout");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.PostAsync("/v1/chat/completions", Json.Chat(), timeout.Token));
    }

    [Fact]
    public async Task Fault_reset_drops_the_connection()
    {
        await SetFaultAsync("reset");

        await Assert.ThrowsAsync<HttpRequestException>(() => _client.PostAsync("/v1/chat/completions", Json.Chat()));
    }

    [Fact]
    public async Task Fault_stall_first_sends_headers_then_waits_before_the_first_chunk()
    {
        await SetFaultAsync("stall-first");
        var started = Stopwatch.GetTimestamp();

        using var response = await PostStreamAsync();
        var headersAfter = Stopwatch.GetElapsedTime(started);
        var events = await Json.ReadEventsAsync(response);

        Assert.True(headersAfter < TimeSpan.FromMilliseconds(1000), $"headers took {headersAfter}, as if sent after the stall");
        Assert.True(Stopwatch.GetElapsedTime(started) >= TimeSpan.FromMilliseconds(1500));
        Assert.Equal("[DONE]", events[^1]);
    }

    [Fact]
    public async Task Fault_stall_mid_stalls_after_half_the_tokens()
    {
        await SetFaultAsync("stall-mid");
        var sent = Stopwatch.GetTimestamp();
        using var response = await PostStreamAsync();
        await using var stream = await response.Content.ReadAsStreamAsync();
        var arrivals = new List<long>();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync())
        {
            arrivals.Add(Stopwatch.GetTimestamp());
        }

        var gaps = arrivals.Zip(arrivals.Skip(1), (a, b) => Stopwatch.GetElapsedTime(a, b)).ToList();
        var longest = gaps.IndexOf(gaps.Max());
        // The 1.5 s stall, measured between two arrivals here: the chunk before it may be read late on a busy
        // machine (CI once saw less than 1,500 ms), which shortens the gap by as much, so it is allowed 100 ms;
        // the other gaps are the 20 ms token interval.
        Assert.True(gaps[longest] >= TimeSpan.FromMilliseconds(1400), $"the longest gap was {gaps[longest].TotalMilliseconds:0} ms");
        Assert.True(Stopwatch.GetElapsedTime(sent, arrivals[longest + 1]) >= TimeSpan.FromMilliseconds(1500));
        Assert.Equal(3, longest); // between token 3 and token 4 of 6 (after the role chunk)
    }

    [Fact]
    public async Task Fault_reset_mid_cuts_the_stream_after_half_the_tokens()
    {
        await SetFaultAsync("reset-mid");
        using var response = await PostStreamAsync();
        await using var stream = await response.Content.ReadAsStreamAsync();
        var events = new List<string>();

        var error = await Record.ExceptionAsync(async () =>
        {
            await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(stream).EnumerateAsync())
            {
                events.Add(item.Data);
            }
        });

        Assert.IsAssignableFrom<IOException>(error is HttpRequestException ? error.InnerException ?? error : error);
        Assert.Equal(4, events.Count); // the role chunk and 3 of the 6 tokens, then nothing
        Assert.DoesNotContain("[DONE]", events);
    }

    [Fact]
    public async Task Stats_count_requests_and_faults_and_reset_to_zero()
    {
        await SetFaultAsync("500", rate: 1.0);
        await _client.PostAsync("/v1/chat/completions", Json.Chat());
        await _client.DeleteAsync("/sim/faults");
        await _client.PostAsync("/v1/chat/completions", Json.Chat());

        var stats = await _client.GetFromJsonAsync<JsonElement>("/sim/stats");
        await _client.PostAsync("/sim/stats/reset", null);
        var reset = await _client.GetFromJsonAsync<JsonElement>("/sim/stats");

        Assert.Equal(2, stats.GetProperty("requests").GetInt64());
        Assert.Equal(1, stats.GetProperty("completed").GetInt64());
        Assert.Equal(1, stats.GetProperty("faults").GetProperty("500").GetInt64());
        Assert.Equal(0, reset.GetProperty("requests").GetInt64());
    }

    [Theory]
    [InlineData("""{"kind":"boom","rate":1}""")]
    [InlineData("""{"kind":"500","rate":2}""")]
    [InlineData("""not json""")]
    public async Task A_bad_fault_is_refused_with_400(string body)
    {
        using var response = await _client.PostAsync("/sim/faults", Json.Body(body));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await Json.ReadErrorAsync(response);
    }

    private Task<HttpResponseMessage> PostStreamAsync() =>
        _client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat(stream: true) }, HttpCompletionOption.ResponseHeadersRead);

    private async Task SetFaultAsync(string kind, double rate = 1.0)
    {
        using var response = await _client.PostAsJsonAsync("/sim/faults", new { kind, rate });
        response.EnsureSuccessStatusCode();
    }
}
