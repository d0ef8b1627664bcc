using System.Net;
using System.Text;
using AgentPlatform.Api;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Tests.Infrastructure;
using AgentPlatform.Tokens;

namespace AgentPlatform.Tests.Api.Chat;

/// <summary>
/// The model name is the client's text that becomes stored data (usage records, roll-ups), log fields
/// and metric tags: only a bounded, plain name gets in, and only a model the key may use and the pool
/// knows is kept. A Redis of its own (keys make the master key admin-only).
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class ModelNameTests(PlatformFixture platform) : IAsyncLifetime
{
    private TestRedis _redis = null!;

    public async Task InitializeAsync() => _redis = await TestRedis.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("claude-3-5-sonnet@20240620")]
    [InlineData("llama3.1:8b")]
    [InlineData("accounts/fireworks/models/llama-v3p1-405b-instruct")]
    [InlineData("agent:helper")]
    public void Every_providers_names_are_taken(string model) =>
        Assert.True(ChatRequestScanner.Scan(Chat(model)).IsValid);

    [Theory]
    [InlineData("gpt 4o")]
    [InlineData("=HYPERLINK(\\\"http://x\\\")")]
    [InlineData("line\\r\\nforged: entry")]
    [InlineData("modèle")]
    [InlineData("a\\u0000b")]
    public void Names_outside_the_safe_characters_are_refused_naming_model(string model)
    {
        var scan = ChatRequestScanner.Scan(Chat(model));

        Assert.Equal(ChatRequestProblem.ModelNameInvalid, scan.Problem);
        Assert.Equal("model", ChatRequestScanner.Describe(scan.Problem).Param);
    }

    [Fact]
    public void A_name_over_the_length_limit_is_refused_even_when_megabytes_long()
    {
        Assert.True(ChatRequestScanner.Scan(Chat(new string('m', ChatRequestScanner.MaxModelNameLength))).IsValid);
        Assert.Equal(ChatRequestProblem.ModelNameInvalid, ChatRequestScanner.Scan(Chat(new string('m', ChatRequestScanner.MaxModelNameLength + 1))).Problem);
        Assert.Equal(ChatRequestProblem.ModelNameInvalid, ChatRequestScanner.Scan(Chat(new string('m', 4 * 1024 * 1024))).Problem);
    }

    [Fact]
    public void Made_up_model_names_do_not_each_keep_a_tokenizer()
    {
        var estimator = new PromptTokenEstimator();

        for (var i = 0; i < PromptTokenEstimator.MaxRememberedModels + 100; i++)
        {
            Assert.True(estimator.Estimate(Chat($"made-up-{i}"), $"made-up-{i}").PromptTokens > 0);
        }

        Assert.Equal(PromptTokenEstimator.MaxRememberedModels, estimator.RememberedModels);
        Assert.Same(estimator.For("made-up-1"), estimator.For("another-made-up-name"));
    }

    [Fact]
    public async Task A_model_the_key_may_not_use_or_the_pool_does_not_know_is_recorded_as_unknown()
    {
        await using var api = new KestrelApp<ApiOptions>(PlatformFixture.ApiSettings(_redis, platform.Router.BaseAddress)).Start();
        var tenant = await ApiCalls.CreateTenantAsync(api, new { name = "names" });
        var (restrictedId, restricted) = await ApiCalls.CreateKeyAsync(api, tenant, new { name = "default only", models = new[] { "default" } });
        var (openId, open) = await ApiCalls.CreateKeyAsync(api, tenant, new { name = "any model" });
        using var restrictedClient = ApiCalls.Client(api, restricted);
        using var openClient = ApiCalls.Client(api, open);

        using (var forbidden = await restrictedClient.PostAsync("/v1/chat/completions", Json.Chat(model: "secret-plan-x1")))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }
        using (var unknown = await openClient.PostAsync("/v1/chat/completions", Json.Chat(model: "secret-plan-x2")))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }
        using (var known = await openClient.PostAsync("/v1/chat/completions", Json.Chat(model: "default")))
        {
            Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        }
        using (var invalid = await openClient.PostAsync("/v1/chat/completions", Json.Chat(model: new string('x', 300))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
            Assert.Equal("model", (await Json.ReadErrorAsync(invalid)).GetProperty("param").GetString());
        }

        using var admin = ApiCalls.Admin(api);
        var refused = Assert.Single(await ApiCalls.LedgerAsync(admin, $"keyId={restrictedId}", expected: 1));
        Assert.Equal("unknown", refused.GetProperty("model").GetString());
        var models = (await ApiCalls.LedgerAsync(admin, $"keyId={openId}", expected: 3)).Select(r => r.GetProperty("model").GetString()).Order().ToList();
        Assert.Equal(["default", "unknown", "unknown"], models);
        var export = await admin.GetStringAsync($"/admin/v1/usage?keyId={openId}&format=csv");
        Assert.DoesNotContain("secret-plan", export);
    }

    private static byte[] Chat(string model) =>
        Encoding.UTF8.GetBytes($$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}]}""");
}
