using System.ClientModel;
using System.Text;
using AgentPlatform.Api;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace AgentPlatform.Tests.Router.Providers;

/// <summary>
/// The same conformance tests for every provider adapter: the official OpenAI SDK calls the Api, whose
/// Router speaks each provider's own API (URL, key header, wire format) to a simulator that checks it.
/// A model group per provider: <c>openai</c>, <c>azure-openai</c>, <c>anthropic</c>.
/// </summary>
[Collection(PlatformCollection.Name)]
public sealed class ProviderConformanceTests(PlatformFixture platform) : IAsyncLifetime
{
    private const string ProviderKey = "sk-sim-provider-key-42";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private KestrelApp<SimulatorOptions> _simulator = null!;
    private KestrelApp<RouterOptions> _router = null!;
    private KestrelApp<ApiOptions> _api = null!;
    private readonly CapturingLoggerProvider _routerLogs = new();

    public static TheoryData<string> Providers => new(["openai", "azure-openai", "anthropic"]);

    public async Task InitializeAsync()
    {
        _simulator = PlatformFixture.StartSimulator(new Dictionary<string, string?>
        {
            ["Simulator:OutputTokens"] = "12",
            ["Simulator:ApiKey"] = ProviderKey,
        });
        var settings = new Dictionary<string, string?>();
        foreach (var provider in new[] { "openai", "azure-openai", "anthropic" })
        {
            AddGroup(settings, provider, provider, ProviderKey);
            AddGroup(settings, provider + "-wrong-key", provider, "sk-wrong");
        }
        // A wrong key first, the right one behind it: the pool fails over past the provider's 401.
        AddGroup(settings, "wrong-then-right", "openai", "sk-wrong");
        settings["Router:ModelGroups:wrong-then-right:Deployments:1:Name"] = "right-sim";
        settings["Router:ModelGroups:wrong-then-right:Deployments:1:BaseUrl"] = $"{_simulator.BaseAddress}v1";
        settings["Router:ModelGroups:wrong-then-right:Deployments:1:Model"] = "gpt-sim";
        settings["Router:ModelGroups:wrong-then-right:Deployments:1:ApiKey"] = ProviderKey;
        settings["Router:ModelGroups:wrong-then-right:Deployments:1:Priority"] = "1";
        _router = platform.StartRouter(settings, _routerLogs);
        _api = platform.StartApi(_router.BaseAddress);
        await Task.CompletedTask;
    }

    private void AddGroup(Dictionary<string, string?> settings, string group, string provider, string key)
    {
        var prefix = $"Router:ModelGroups:{group}:Deployments:0";
        settings[$"{prefix}:Name"] = $"{provider}-sim";
        settings[$"{prefix}:Provider"] = provider;
        settings[$"{prefix}:BaseUrl"] = provider == "openai" ? $"{_simulator.BaseAddress}v1" : _simulator.BaseAddress.ToString();
        settings[$"{prefix}:Model"] = provider switch { "azure-openai" => "my-gpt-deployment", "anthropic" => "claude-sim", _ => "gpt-sim" };
        settings[$"{prefix}:ApiKey"] = key;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _router.DisposeAsync();
        await _simulator.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_chat_completes_as_json_with_usage(string provider)
    {
        ChatCompletion completion = await Client(provider).CompleteChatAsync(
            [new SystemChatMessage("You are terse."), new UserChatMessage("Hello, platform")]).WaitAsync(Timeout);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        var text = Assert.Single(completion.Content).Text;
        Assert.Equal(12, text.Split(' ').Length);
        Assert.Equal(12, completion.Usage.OutputTokenCount);
        Assert.True(completion.Usage.InputTokenCount > 0);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_chat_streams_to_its_finish_and_usage(string provider)
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        var updates = 0;

        await foreach (var update in Client(provider).CompleteChatStreamingAsync([new UserChatMessage("Stream to me")]).WithCancellation(new CancellationTokenSource(Timeout).Token))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.True(updates >= 12, $"{updates} updates: the answer did not arrive token by token");
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.Equal(12, text.ToString().Split(' ').Length);
        Assert.NotNull(usage);
        Assert.Equal(12, usage.OutputTokenCount);
        Assert.True(usage.InputTokenCount > 0);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_max_tokens_limit_ends_the_answer_with_length(string provider)
    {
        ChatCompletion completion = await Client(provider).CompleteChatAsync(
            [new UserChatMessage("Say a lot")], new ChatCompletionOptions { MaxOutputTokenCount = 3 }).WaitAsync(Timeout);

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(3, completion.Usage.OutputTokenCount);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_tool_call_comes_back_and_its_result_goes_on_to_an_answer(string provider)
    {
        var client = Client(provider);
        var options = new ChatCompletionOptions { Tools = { WeatherTool } };
        List<ChatMessage> messages = [new UserChatMessage("What is the weather in Paris? Use get_weather.")];

        ChatCompletion call = await client.CompleteChatAsync(messages, options).WaitAsync(Timeout);

        Assert.Equal(ChatFinishReason.ToolCalls, call.FinishReason);
        var toolCall = Assert.Single(call.ToolCalls);
        Assert.Equal("get_weather", toolCall.FunctionName);
        Assert.False(string.IsNullOrEmpty(toolCall.Id));
        Assert.Equal("sim", toolCall.FunctionArguments.ToObjectFromJson<Dictionary<string, object>>()!["city"].ToString());

        messages.Add(new AssistantChatMessage(call));
        messages.Add(new ToolChatMessage(toolCall.Id, "Sunny, 21 °C"));
        ChatCompletion answer = await client.CompleteChatAsync(messages, options).WaitAsync(Timeout);

        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(Assert.Single(answer.Content).Text));
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_streamed_tool_call_arrives_whole(string provider)
    {
        var options = new ChatCompletionOptions { Tools = { WeatherTool } };
        string? id = null, name = null;
        var arguments = new StringBuilder();
        ChatFinishReason? finish = null;

        await foreach (var update in Client(provider).CompleteChatStreamingAsync([new UserChatMessage("Weather in Oslo? get_weather please")], options)
            .WithCancellation(new CancellationTokenSource(Timeout).Token))
        {
            foreach (var part in update.ToolCallUpdates)
            {
                Assert.Equal(0, part.Index);
                id ??= part.ToolCallId;
                name ??= part.FunctionName;
                arguments.Append(part.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }

        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.False(string.IsNullOrEmpty(id));
        Assert.Equal("get_weather", name);
        Assert.Equal("sim", System.Text.Json.JsonDocument.Parse(arguments.ToString()).RootElement.GetProperty("city").GetString());
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task A_forced_tool_choice_is_honoured(string provider)
    {
        var options = new ChatCompletionOptions { Tools = { WeatherTool }, ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather") };

        ChatCompletion call = await Client(provider).CompleteChatAsync([new UserChatMessage("Nothing about tools here")], options).WaitAsync(Timeout);

        Assert.Equal("get_weather", Assert.Single(call.ToolCalls).FunctionName);
    }

    [Theory]
    [MemberData(nameof(Providers))]
    public async Task The_provider_refusing_the_platforms_key_is_a_502_upstream_auth_failed_that_hints_at_no_key(string provider)
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            Client(provider + "-wrong-key").CompleteChatAsync([new UserChatMessage("hi")]).WaitAsync(Timeout));

        // Not the client's 401: its own key is fine. The provider's message (with the key's last characters) stays behind.
        Assert.Equal(502, error.Status);
        var body = System.Text.Json.JsonDocument.Parse(error.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("upstream_auth_failed", body.GetProperty("code").GetString());
        Assert.DoesNotContain("****", body.GetProperty("message").GetString()); // the simulator's hint, as OpenAI's: sk-****rong
        Assert.DoesNotContain("sk-", body.GetProperty("message").GetString());
        Assert.Contains(_routerLogs.Logs, l => l.EventId.Id == 1006 && l.Message.Contains($"{provider}-sim"));
        Assert.DoesNotContain(_routerLogs.Logs, l => l.Message.Contains("sk-wrong") || l.Message.Contains(ProviderKey) || l.Message.Contains("sk-****"));
    }

    [Fact]
    public async Task A_deployment_whose_key_is_refused_is_failed_over_and_counted_against_its_breaker()
    {
        ChatCompletion completion = await Client("wrong-then-right").CompleteChatAsync([new UserChatMessage("hi")]).WaitAsync(Timeout);

        Assert.False(string.IsNullOrEmpty(completion.Content[0].Text));
        var pool = _router.Services.GetRequiredService<AgentPlatform.Router.Pool.ModelPool>();
        var wrong = pool.Groups.Single(g => g.Name == "wrong-then-right").Deployments.Single(d => d.Name == "openai-sim");
        Assert.Contains("refused the platform's credential (401)", wrong.State.LatestError?.Message);
    }

    private static readonly ChatTool WeatherTool = ChatTool.CreateFunctionTool("get_weather", "The weather in a city.",
        BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));

    private ChatClient Client(string model) => new(model, new ApiKeyCredential(PlatformFixture.MasterKey), new OpenAIClientOptions
    {
        Endpoint = new Uri(_api.BaseAddress, "/v1"),
        NetworkTimeout = Timeout,
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
    });
}
