using System.Net;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Api.Embeddings;

/// <summary>
/// A Redis, two simulators, a Router and an Api with the cache on. Groups: <c>embeddings</c> (sim-a as
/// OpenAI, sim-b as Azure OpenAI, both embeddings deployments), <c>embeddings-failover</c> (a dead
/// embeddings deployment, then sim-b), <c>chat</c> (sim-a as a chat deployment).
/// </summary>
public sealed class EmbeddingsFixture : IAsyncLifetime
{
    /// <summary>USD per million input tokens: a token costs a thousandth of a dollar, so budgets bite after a few requests.</summary>
    public const double InputPricePerMillion = 1000;

    public TestRedis Redis { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SimA { get; private set; } = null!;
    public KestrelApp<SimulatorOptions> SimB { get; private set; } = null!;
    public KestrelApp<RouterOptions> Router { get; private set; } = null!;
    public KestrelApp<ApiOptions> Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Redis = await TestRedis.StartAsync();
        SimA = PlatformFixture.StartSimulator();
        SimB = PlatformFixture.StartSimulator();
        Router = new KestrelApp<RouterOptions>(new RouterSettings
        {
            { "ConnectionStrings:cache", Redis.ConnectionString },
            { "Logging:LogLevel:Default", "Warning" },
            { "Router:Timeouts:FirstTokenSeconds", "2" },
            { "Router:Retry:BaseDelayMs", "20" },
            {
                "embeddings", new ModelGroupOptions
                {
                    Deployments =
                    [
                        Embeddings(RouterSettings.Deployment("sim-a", SimA.BaseAddress, model: "sim-embedding")),
                        Embeddings(RouterSettings.Azure("sim-b-azure", SimB.BaseAddress, model: "sim-embedding-deployment")),
                    ],
                }
            },
            {
                "embeddings-failover", new ModelGroupOptions
                {
                    Deployments = [Embeddings(RouterSettings.Unreachable("down")), Embeddings(RouterSettings.Deployment("backup", SimB.BaseAddress, model: "sim-embedding", priority: 1))],
                }
            },
            { "chat", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("sim-a-chat", SimA.BaseAddress)] } },
        }).Start();
        Api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(Redis, Router.BaseAddress, new Dictionary<string, string?> { ["Cache:Enabled"] = "true" })).Start();
    }

    private static DeploymentOptions Embeddings(DeploymentOptions deployment) => RouterSettings.Priced(RouterSettings.Embeddings(deployment), InputPricePerMillion, 0);

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Router.DisposeAsync();
        await SimA.DisposeAsync();
        await SimB.DisposeAsync();
        await Redis.DisposeAsync();
    }
}

/// <summary>
/// <c>POST /v1/embeddings</c> through the same stages as a chat completion: key, model allow-list,
/// limits on input tokens, budget, cache, routing with failover, usage record.
/// </summary>
public sealed class EmbeddingsDoorTests(EmbeddingsFixture platform) : IClassFixture<EmbeddingsFixture>
{
    private async Task<(string TenantId, string KeyId, HttpClient Client)> NewKeyAsync(object? tenant = null, object? key = null)
    {
        var tenantId = await ApiCalls.CreateTenantAsync(platform.Api, tenant ?? new { name = $"t-{Guid.NewGuid():N}" });
        var (keyId, plaintext) = await ApiCalls.CreateKeyAsync(platform.Api, tenantId, key ?? new { name = "embedder" });
        return (tenantId, keyId, ApiCalls.Client(platform.Api, plaintext));
    }

    private static Task<HttpResponseMessage> EmbedAsync(HttpClient client, object body, string? cacheControl = "no-store")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/embeddings") { Content = JsonContent.Create(body) };
        if (cacheControl is not null)
        {
            request.Headers.TryAddWithoutValidation("Cache-Control", cacheControl);
        }
        return client.SendAsync(request);
    }

    /// <summary>Common English words, one token each to the tokenizer and one word each to the simulator: estimate and usage agree.</summary>
    private static readonly string[] CommonWords = ["apple", "river", "stone", "cloud", "green", "light", "music", "paper", "water", "house"];

    /// <summary><paramref name="count"/> common words, shuffled by <paramref name="seed"/> so that no two requests are one cache entry.</summary>
    private static string Words(int count, int seed) => string.Join(' ', Enumerable.Range(0, count).Select(i => CommonWords[(i * 7 + seed) % CommonWords.Length]));

    [Fact]
    public async Task Each_input_gets_its_unit_vector_and_the_record_has_the_providers_tokens_and_their_cost()
    {
        var (_, keyId, client) = await NewKeyAsync();
        string[] inputs = ["the quick brown fox", "jumps over", "the quick brown fox"];

        using var response = await EmbedAsync(client, new { model = "embeddings", input = inputs });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        var vectors = answer.GetProperty("data").EnumerateArray().Select(item => item.GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        Assert.Equal(3, vectors.Length);
        Assert.All(vectors, vector => Assert.Equal(1536, vector.Length));
        Assert.All(vectors, vector => Assert.InRange(Math.Sqrt(vector.Sum(v => (double)v * v)), 0.999, 1.001));
        Assert.Equal(vectors[0], vectors[2]);
        Assert.NotEqual(vectors[0], vectors[1]);
        var reported = answer.GetProperty("usage").GetProperty("prompt_tokens").GetInt64();
        Assert.Equal(4 + 2 + 4, reported);

        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.Equal("embeddings", record.GetProperty("model").GetString());
        Assert.Equal("embeddings", record.GetProperty("door").GetString());
        Assert.Equal(reported, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(0, record.GetProperty("completionTokens").GetInt64());
        Assert.Equal(reported * EmbeddingsFixture.InputPricePerMillion / 1_000_000, record.GetProperty("costUsd").GetDouble(), precision: 9);
    }

    [Fact]
    public async Task An_answer_too_large_for_the_router_to_hold_is_recorded_with_the_usage_it_ends_with()
    {
        // 80 vectors of 1,536 floats: ~1.6 MB of JSON, past what the Router holds whole to read its usage
        // first; the usage is read from the answer's end as it passes. Words of one token each: the
        // estimate and the simulator's count agree, so only "estimated" tells which was recorded.
        var (_, keyId, client) = await NewKeyAsync();
        var inputs = Enumerable.Range(0, 80).Select(i => Words(5, i)).ToArray();

        using var response = await EmbedAsync(client, new { model = "embeddings", input = inputs });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(80, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetArrayLength());
        using var admin = ApiCalls.Admin(platform.Api);
        var record = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={keyId}", 1));
        Assert.False(record.GetProperty("estimated").GetBoolean());
        Assert.Equal(80 * 5, record.GetProperty("promptTokens").GetInt64());
        Assert.Equal(80 * 5 * EmbeddingsFixture.InputPricePerMillion / 1_000_000, record.GetProperty("costUsd").GetDouble(), precision: 9);
    }

    [Fact]
    public async Task Dimensions_and_base64_reach_the_deployment_and_come_back_as_asked()
    {
        var (_, _, client) = await NewKeyAsync();

        using var floats = await EmbedAsync(client, new { model = "embeddings", input = "hello vectors", dimensions = 256 });
        using var base64 = await EmbedAsync(client, new { model = "embeddings", input = "hello vectors", dimensions = 256, encoding_format = "base64" });

        Assert.Equal(HttpStatusCode.OK, floats.StatusCode);
        Assert.Equal(HttpStatusCode.OK, base64.StatusCode);
        var asFloats = (await floats.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()).ToArray();
        var encoded = (await base64.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data")[0].GetProperty("embedding").GetString()!;
        var decoded = MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(encoded)).ToArray();
        Assert.Equal(256, asFloats.Length);
        Assert.Equal(asFloats, decoded);
    }

    [Fact]
    public async Task A_tokens_per_minute_limit_reserves_the_input_alone_and_refuses_what_would_pass_it()
    {
        // 30 input tokens a minute: a 20-word input fits (a chat-style reservation of any output would not);
        // after it is settled, a second one does not.
        var (_, _, client) = await NewKeyAsync(key: new { name = "tpm", tpm = 30 });

        using var first = await EmbedAsync(client, new { model = "embeddings", input = Words(20, 1) });
        using var second = await EmbedAsync(client, new { model = "embeddings", input = Words(20, 2) });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.True(second.Headers.Contains("Retry-After"));
        Assert.Contains("tokens", (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_budget_pays_for_input_tokens_and_refuses_the_request_it_cannot_cover()
    {
        // $0.05 at $0.001 a token: two 20-token requests are $0.04; a third would pass the budget.
        var (_, _, client) = await NewKeyAsync(tenant: new { name = $"budget-{Guid.NewGuid():N}", budgetUsd = 0.05, budgetPeriod = "monthly" });

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await EmbedAsync(client, new { model = "embeddings", input = Words(20, 3 + i) });
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired], statuses);
    }

    [Fact]
    public async Task A_repeated_request_is_a_cache_hit_at_this_door_and_never_at_the_chat_door()
    {
        var (_, _, client) = await NewKeyAsync();
        // Valid at both doors: messages for chat, input for embeddings.
        var body = new { model = "embeddings", input = $"cache me {Guid.NewGuid():N}", messages = new[] { new { role = "user", content = "hi" } } };

        using var miss = await EmbedAsync(client, body, cacheControl: null);
        var missBody = await miss.Content.ReadAsStringAsync();
        using var hit = await EmbedAsync(client, body, cacheControl: null);
        using var chat = await client.PostAsJsonAsync("/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.OK, miss.StatusCode);
        Assert.Equal("miss", miss.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal("hit", hit.Headers.GetValues("x-agentplatform-cache").Single());
        Assert.Equal(missBody, await hit.Content.ReadAsStringAsync());
        // The chat door looks under its own key: a miss, answered by the Router (which refuses the embeddings group there).
        Assert.Equal(HttpStatusCode.BadRequest, chat.StatusCode);
        Assert.NotEqual("hit", chat.Headers.TryGetValues("x-agentplatform-cache", out var outcome) ? outcome.Single() : null);
    }

    [Fact]
    public async Task Each_door_refuses_a_group_of_the_other_kind_by_name()
    {
        var (_, _, client) = await NewKeyAsync();

        using var chatAtEmbeddings = await EmbedAsync(client, new { model = "chat", input = "x" });
        using var embeddingsAtChat = await client.PostAsJsonAsync("/v1/chat/completions", new { model = "embeddings", messages = new[] { new { role = "user", content = "x" } } });

        foreach (var response in new[] { chatAtEmbeddings, embeddingsAtChat })
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error");
            Assert.Equal("model_kind_mismatch", error.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task The_model_list_says_which_door_answers_each_group()
    {
        var (_, _, client) = await NewKeyAsync(key: new { name = "two groups", models = new[] { "chat", "embeddings" } });

        var models = (await client.GetFromJsonAsync<JsonElement>("/v1/models")).GetProperty("data").EnumerateArray()
            .ToDictionary(model => model.GetProperty("id").GetString()!, model => string.Join(' ', model.GetProperty("endpoints").EnumerateArray().Select(e => e.GetString())));

        Assert.Equal(new Dictionary<string, string> { ["chat"] = "/v1/chat/completions /v1/messages /v1/responses", ["embeddings"] = "/v1/embeddings" }, models);
    }

    [Theory]
    [InlineData("""{"model":"embeddings"}""", "input")]
    [InlineData("""{"model":"embeddings","input":""}""", "input")]
    [InlineData("""{"model":"embeddings","input":[]}""", "input")]
    [InlineData("""{"model":"embeddings","input":["a",[1,2]]}""", "input")]
    [InlineData("""{"model":"embeddings","input":"a","dimensions":0}""", "dimensions")]
    [InlineData("""{"model":"embeddings","input":"a","encoding_format":"int8"}""", "encoding_format")]
    [InlineData("""{"input":"a"}""", "model")]
    public async Task A_malformed_request_is_refused_naming_the_parameter(string body, string param)
    {
        var (_, _, client) = await NewKeyAsync();

        using var response = await client.PostAsync("/v1/embeddings", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task An_agent_or_a_model_the_key_may_not_use_is_refused()
    {
        var (_, _, client) = await NewKeyAsync(key: new { name = "chat only", models = new[] { "chat", "agent:helper" } });

        using var notAllowed = await EmbedAsync(client, new { model = "embeddings", input = "x" });
        using var agent = await EmbedAsync(client, new { model = "agent:helper", input = "x" });

        Assert.Equal(HttpStatusCode.Forbidden, notAllowed.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, agent.StatusCode);
        Assert.Equal("model_kind_mismatch", (await agent.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_deployment_that_cannot_be_reached_fails_over_before_the_first_byte()
    {
        var (_, _, client) = await NewKeyAsync();

        using var response = await EmbedAsync(client, new { model = "embeddings-failover", input = "fail over" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup", response.Headers.GetValues("x-agentplatform-deployment").Single());
        Assert.Single((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").EnumerateArray());
    }
}
