using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;

namespace AgentPlatform.Tests.Router.Pool;

/// <summary>Fallback groups: when a group cannot answer, and when a prompt is too long for it.</summary>
[Collection(PlatformCollection.Name)]
public sealed class FallbackTests(PlatformFixture platform) : IAsyncLifetime
{
    private readonly HttpClient _simA = platform.SimA.CreateHttpClient();
    private readonly HttpClient _simB = platform.SimB.CreateHttpClient();
    private KestrelApp<SimulatorOptions> _smallModel = null!;
    private KestrelApp<RouterOptions> _router = null!;

    /// <summary>A long prompt: about 300 tokens by any count.</summary>
    private static readonly string LongPrompt = string.Join(' ', Enumerable.Repeat("please route this rather long question", 50));

    public async Task InitializeAsync()
    {
        _smallModel = PlatformFixture.StartSimulator(new Dictionary<string, string?> { ["Simulator:ContextWindow"] = "100" });
        var (simA, simB) = (platform.SimA.BaseAddress, platform.SimB.BaseAddress);
        _router = platform.StartRouter(new RouterSettings
        {
            // primary (sim-b) falls back to backup (sim-a)
            { "primary", new ModelGroupOptions { Fallbacks = ["backup"], Deployments = [RouterSettings.Deployment("primary-b", simB)] } },
            { "backup", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("backup-a", simA)] } },
            // small (sim-a, a declared 100-token window) turns long prompts over to large (sim-b)
            { "small", new ModelGroupOptions { ContextWindowFallbacks = ["large"], Deployments = [RouterSettings.Deployment("small-a", simA, "gpt-4o", contextWindow: 100)] } },
            { "large", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("large-b", simB, contextWindow: 100_000)] } },
            // unaware: no window declared, but the model refuses long prompts; large takes over
            { "unaware", new ModelGroupOptions { ContextWindowFallbacks = ["large"], Deployments = [RouterSettings.Deployment("unaware-small", _smallModel.BaseAddress)] } },
            // tiny: nothing anywhere takes a long prompt
            { "tiny", new ModelGroupOptions { Deployments = [RouterSettings.Deployment("tiny-a", simA, "gpt-4o", contextWindow: 100)] } },
        });
        await platform.ResetSimulatorsAsync();
    }

    public async Task DisposeAsync()
    {
        await platform.ResetSimulatorsAsync();
        await _router.DisposeAsync();
        await _smallModel.DisposeAsync();
        _simA.Dispose();
        _simB.Dispose();
    }

    [Fact]
    public async Task A_group_that_cannot_answer_hands_the_request_to_its_fallback()
    {
        await _simB.PostAsJsonAsync("/sim/faults", new { kind = "500", rate = 1.0 });
        using var client = _router.CreateHttpClient();

        using var response = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "primary"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("backup-a", response.Headers.GetValues("x-agentplatform-deployment").Single());
        Assert.Equal("backup", response.Headers.GetValues("x-agentplatform-fallback").Single());
    }

    [Fact]
    public async Task A_prompt_too_long_for_the_group_goes_to_its_context_window_fallback_before_any_call()
    {
        using var client = _router.CreateHttpClient();

        using var shortOne = await client.PostAsync("/v1/chat/completions", Json.Chat(model: "small"));
        using var longOne = await client.PostAsync("/v1/chat/completions", Chat("small", LongPrompt));

        Assert.Equal("small-a", shortOne.Headers.GetValues("x-agentplatform-deployment").Single());
        Assert.False(shortOne.Headers.Contains("x-agentplatform-fallback"));
        Assert.Equal(HttpStatusCode.OK, longOne.StatusCode);
        Assert.Equal("large-b", longOne.Headers.GetValues("x-agentplatform-deployment").Single());
        Assert.Equal("large", longOne.Headers.GetValues("x-agentplatform-fallback").Single());
        Assert.Equal(1, (await _simA.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt64());
    }

    [Fact]
    public async Task A_providers_context_length_error_sends_the_request_to_the_context_window_fallback()
    {
        using var client = _router.CreateHttpClient();

        using var response = await client.PostAsync("/v1/chat/completions", Chat("unaware", LongPrompt));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("large-b", response.Headers.GetValues("x-agentplatform-deployment").Single());
    }

    [Fact]
    public async Task A_prompt_too_long_for_every_choice_is_refused_like_openai_does()
    {
        using var client = _router.CreateHttpClient();

        using var response = await client.PostAsync("/v1/chat/completions", Chat("tiny", LongPrompt));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await Json.ReadErrorAsync(response);
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Equal(0, (await _simA.GetFromJsonAsync<JsonElement>("/sim/stats")).GetProperty("requests").GetInt64());
    }

    private static StringContent Chat(string model, string prompt) =>
        Json.Body(JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = prompt } } }));
}
