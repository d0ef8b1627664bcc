using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace AgentPlatform.Tests.Api;

/// <summary>
/// Hostile clients against the real Api and Router processes on their own Redis, for a bounded number
/// of requests: a flood of made-up keys, odd and oversized model names, <c>n</c> abuse, text that is
/// not UTF-8, agents aimed inside the network, and a key spending its budget — and what must hold
/// after: Redis and the Api's memory within stated bounds, no usage record of an unauthenticated
/// request, no 5xx, every refusal in OpenAI's error shape, the budget not overspent, no formula in
/// the usage export.
/// </summary>
public sealed class HostileClientSuiteTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>What Redis may grow by over the whole suite: the records of the authenticated requests, and nothing per refused one.</summary>
    private const long RedisGrowthBound = 8L * 1024 * 1024;

    /// <summary>The Api's working set after it: ~100 MB at rest, ~65 MB more for the tokenizer's vocabulary, and room.</summary>
    private const long ApiWorkingSetBound = 600L * 1024 * 1024;

    private const decimal Budget = 1m;

    /// <summary>Short, so the admin (on the same address as the flood) is let in again soon after it.</summary>
    private const int FailureWindowSeconds = 5;

    private TestRedis _redis = null!;
    private KestrelApp<SimulatorOptions> _simulator = null!;
    private ServiceProcess _router = null!;
    private ServiceProcess _api = null!;
    private readonly List<HttpResponseMessage> _refusals = [];

    public async Task InitializeAsync()
    {
        _redis = await TestRedis.StartAsync();
        _simulator = PlatformFixture.StartSimulator();
        _router = await ServiceProcess.StartAsync("AgentPlatform.Router", new Dictionary<string, string?>
        {
            ["ConnectionStrings:cache"] = _redis.ConnectionString,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Router:ModelGroups:chat:Deployments:0:Name"] = "sim",
            ["Router:ModelGroups:chat:Deployments:0:BaseUrl"] = $"{_simulator.BaseAddress}v1",
            ["Router:ModelGroups:chat:Deployments:0:Model"] = "sim-model",
            ["Router:ModelGroups:chat:Deployments:0:MaxOutputTokens"] = "16",
            ["Router:ModelGroups:chat:Deployments:0:InputPricePerMillion"] = "1000",
            ["Router:ModelGroups:chat:Deployments:0:OutputPricePerMillion"] = "1000",
        });
        // The platform's defaults, the failed-authentication limit included (the tests' services turn it off).
        _api = await ServiceProcess.StartAsync("AgentPlatform.Api", PlatformFixture.ApiSettings(_redis, _router.BaseAddress, new Dictionary<string, string?>
        {
            ["AgentPlatform:MaxFailedAuthentications"] = "30",
            ["AgentPlatform:FailedAuthenticationWindowSeconds"] = FailureWindowSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }));
    }

    public async Task DisposeAsync()
    {
        foreach (var response in _refusals)
        {
            response.Dispose();
        }
        await _api.DisposeAsync();
        await _router.DisposeAsync();
        await _simulator.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Hostile_clients_cannot_grow_redis_or_memory_overspend_or_reach_inside_and_every_refusal_is_an_openai_error()
    {
        using var admin = _api.Client(PlatformFixture.MasterKey);
        var tenant = await ApiCalls.CreateTenantAsync(_api, new { name = "hostile" });
        var (keyId, key) = await ApiCalls.CreateKeyAsync(_api, tenant, new { name = "spender", budgetUsd = Budget, budgetPeriod = "daily" });
        using var redis = await ConnectionMultiplexer.ConnectAsync(_redis.ConnectionString);
        var redisBefore = await UsedMemoryAsync(redis);
        using var client = _api.Client(key);
        var authenticated = 0;

        // 1. Odd and oversized model names: refused naming the model, and nothing of them kept.
        string[] names = [new string('m', 1024 * 1024), "line\\r\\nbreak", "=cmd|' /C calc'!A0", "mod\\u00e8le", "spaced name", new string('x', 257)];
        foreach (var name in names)
        {
            Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(client, Json.Body($$"""{"model":"{{name}}","messages":[{"role":"user","content":"hi"}]}""")));
            authenticated++;
        }
        // Names that are fine but no model: 404, recorded as 'unknown'.
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(HttpStatusCode.NotFound, await SendAsync(client, Json.Chat(model: $"made-up-model-{i}")));
            authenticated++;
        }

        // 2. n abuse.
        foreach (var n in new[] { 128, 9, 0, -1 })
        {
            Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(client, Json.Chat(model: "chat", extra: $",\"n\":{n}")));
            authenticated++;
        }

        // 3. Bytes that are not UTF-8 text.
        using (var notText = new ByteArrayContent([.. "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\",\"content\":\""u8, 0xff, 0xfe, .. "\"}]}"u8]))
        {
            notText.Headers.ContentType = new("application/json");
            Assert.Equal(HttpStatusCode.BadRequest, await SendAsync(client, notText));
            authenticated++;
        }

        // 4. Agents aimed inside the network: refused when defined, or failing without their URL when run.
        foreach (var inside in new[] { "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/mcp", "http://127.0.0.1:6379/" })
        {
            using var defined = await admin.PutAsJsonAsync("/admin/v1/agents/inside", Agent(inside));
            Assert.Equal(HttpStatusCode.BadRequest, defined.StatusCode);
            await AssertOpenAIErrorAsync(defined);
        }
        using (var byName = await admin.PutAsJsonAsync("/admin/v1/agents/by-name", Agent($"http://localhost:{_redis.Port}/?token=SECRET")))
        {
            Assert.True(byName.IsSuccessStatusCode);
        }
        using (var run = await client.PostAsync("/v1/agents/by-name/runs", Json.Body("""{"input":"hi"}""")))
        {
            var body = await run.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.BadGateway, run.StatusCode);
            Assert.DoesNotContain("SECRET", body);
            authenticated++; // a run is a request of the key (its record is the run's summary)
        }

        // 5. The key spends its budget with requests as large as it may send: refused at the budget, never past it.
        var answered = 0;
        for (var i = 0; i < 200; i++)
        {
            var status = await SendAsync(client, Json.Chat(model: "chat", extra: $",\"seed\":{i}"));
            authenticated++;
            if (status == HttpStatusCode.PaymentRequired)
            {
                break;
            }
            Assert.Equal(HttpStatusCode.OK, status);
            answered++;
        }
        Assert.True(answered is > 0 and < 200, $"{answered} answered before the budget refused: {await _refusals[^1].Content.ReadAsStringAsync()}");

        // 6. Last, a flood of made-up keys from one address: 401 until the address is turned away, then 429.
        using var strangers = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = _api.BaseAddress };
        var flood = new HttpStatusCode[2_000];
        await Parallel.ForAsync(0, flood.Length, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = Json.Chat(model: "chat") };
            request.Headers.Authorization = new("Bearer", $"ap-{Guid.NewGuid():N}");
            flood[i] = await SendAsync(strangers, request);
        });
        Assert.All(flood, status => Assert.Contains(status, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests }));
        Assert.Contains(HttpStatusCode.TooManyRequests, flood);
        // The address's window ends; the admin (on it too) is let in again.
        var adminStatus = await Eventually.ReadAsync(async () =>
        {
            using var probe = await admin.GetAsync("/admin/v1/tenants");
            return probe.StatusCode;
        }, status => status != HttpStatusCode.TooManyRequests, "the address's failure window to end", TimeSpan.FromSeconds(FailureWindowSeconds * 4));
        Assert.Equal(HttpStatusCode.OK, adminStatus);

        // What holds after.
        Assert.All(_refusals, response => Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode}"));
        foreach (var refusal in _refusals)
        {
            await AssertOpenAIErrorAsync(refusal);
        }
        var records = await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", expected: authenticated);
        Assert.Equal(authenticated, records.Count); // every authenticated request, the failed run's summary among them
        var all = await ApiCalls.LedgerAsync(admin, "", expected: records.Count);
        Assert.Equal(records.Count, all.Count); // not one record of a made-up key
        Assert.DoesNotContain(all, r => r.GetProperty("model").GetString() is { } model && (model.StartsWith("made-up", StringComparison.Ordinal) || model.Length > 64));
        Assert.True(records.Sum(r => r.GetProperty("costUsd").GetDecimal()) <= Budget, "the budget was overspent");
        var csv = await admin.GetStringAsync($"/admin/v1/usage?keyId={keyId}&format=csv");
        Assert.DoesNotContain(csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).SelectMany(line => line.Split(',')),
            cell => cell.Length > 0 && "=+@\t\r".Contains(cell[0]));
        var growth = await UsedMemoryAsync(redis) - redisBefore;
        output.WriteLine($"{authenticated} authenticated requests, {flood.Length} with made-up keys ({flood.Count(s => s == HttpStatusCode.TooManyRequests)} turned away); Redis grew {growth:N0} bytes; the Api's working set {_api.WorkingSetBytes:N0} bytes");
        Assert.True(growth < RedisGrowthBound, $"Redis grew by {growth:N0} bytes");
        Assert.True(_api.WorkingSetBytes < ApiWorkingSetBound, $"the Api's working set is {_api.WorkingSetBytes:N0} bytes");
    }

    private Task<HttpStatusCode> SendAsync(HttpClient client, HttpContent content) =>
        SendAsync(client, new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = content });

    private async Task<HttpStatusCode> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        var response = await client.SendAsync(request);
        if (response.IsSuccessStatusCode)
        {
            await response.Content.ReadAsStringAsync();
            response.Dispose();
            return HttpStatusCode.OK;
        }
        lock (_refusals)
        {
            _refusals.Add(response);
        }
        return response.StatusCode;
    }

    private static async Task AssertOpenAIErrorAsync(HttpResponseMessage response)
    {
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
    }

    private static async Task<long> UsedMemoryAsync(ConnectionMultiplexer redis)
    {
        var info = (string)(await redis.GetDatabase().ExecuteAsync("INFO", "memory"))!;
        var line = info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return long.Parse(line["used_memory:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static object Agent(string url) => new
    {
        instructions = "Help.",
        model = "chat",
        tools = new[] { new { mcpServerUrl = url, allowedTools = new[] { "lookup" } } },
    };
}
