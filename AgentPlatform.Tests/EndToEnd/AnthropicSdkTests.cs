using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>
/// The official Anthropic .NET SDK, with only its base URL and key changed, against the whole platform: its
/// Messages door passed through to the local pool's Anthropic deployment (<c>claude-sim</c>) and translated
/// for its OpenAI-compatible ones (<c>default</c>).
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class AnthropicSdkTests(AppHostFixture platform)
{
    private const string Model = "claude-sim";
    private const string OpenAIModel = "default";
    private static readonly TimeSpan DefaultTimeout = AppHostFixture.DefaultTimeout;

    [Theory]
    [InlineData(Model)]
    [InlineData(OpenAIModel)]
    public async Task The_sdk_creates_a_message(string model)
    {
        var message = await Client().Messages.Create(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 64,
            System = "Be brief.",
            Messages = [new UserMessageParam("Hello, Claude")],
        }).WaitAsync(DefaultTimeout);

        var text = string.Concat(message.Content.Select(block => block.TryPickText(out var t) ? t.Text : ""));
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(StopReason.EndTurn, message.StopReason?.Value());
        Assert.Equal(text.Split(' ').Length, message.Usage.OutputTokens);
        Assert.True(message.Usage.InputTokens > 0);
    }

    [Theory]
    [InlineData(Model)]
    [InlineData(OpenAIModel)]
    public async Task The_sdk_streams_a_message_to_its_usage(string model)
    {
        var text = new StringBuilder();
        long? outputTokens = null;

        await foreach (var streamEvent in Client().Messages.CreateStreaming(new MessageCreateParams
        {
            Model = model,
            MaxTokens = 64,
            Messages = [new UserMessageParam("Stream to me")],
        }).WithCancellation(new CancellationTokenSource(DefaultTimeout).Token))
        {
            if (streamEvent.TryPickContentBlockDelta(out var delta) && delta.Delta.TryPickText(out var piece))
            {
                text.Append(piece.Text);
            }
            if (streamEvent.TryPickDelta(out var messageDelta))
            {
                outputTokens = messageDelta.Usage.OutputTokens;
            }
        }

        Assert.NotEqual(0, text.Length);
        Assert.Equal(text.ToString().Split(' ').Length, outputTokens);
    }

    [Theory]
    [InlineData(Model)]
    [InlineData(OpenAIModel)]
    public async Task The_sdk_receives_a_tool_use_and_sends_its_result_back(string model)
    {
        var client = Client();
        Tool weather = new()
        {
            Name = "get_weather",
            Description = "The weather in a city.",
            InputSchema = new InputSchema
            {
                Properties = new Dictionary<string, JsonElement> { ["city"] = JsonSerializer.SerializeToElement(new { type = "string" }) },
                Required = ["city"],
            },
        };
        List<MessageParam> messages = [new UserMessageParam("What is the weather in Paris? Use get_weather.")];

        var call = await client.Messages.Create(new MessageCreateParams { Model = model, MaxTokens = 256, Messages = messages, Tools = [weather] }).WaitAsync(DefaultTimeout);

        Assert.Equal(StopReason.ToolUse, call.StopReason?.Value());
        var toolUse = Assert.Single(call.Content.Select(block => block.TryPickToolUse(out var use) ? use : null).OfType<ToolUseBlock>());
        Assert.Equal("get_weather", toolUse.Name);
        Assert.Equal("sim", toolUse.Input["city"].GetString());

        messages.Add(new AssistantMessageParam(new List<ContentBlockParam> { new ToolUseBlockParam { ID = toolUse.ID, Name = toolUse.Name, Input = toolUse.Input } }));
        messages.Add(new UserMessageParam(new List<ContentBlockParam> { new ToolResultBlockParam(toolUse.ID) { Content = "Sunny, 21 °C" } }));
        var answer = await client.Messages.Create(new MessageCreateParams { Model = model, MaxTokens = 256, Messages = messages, Tools = [weather] }).WaitAsync(DefaultTimeout);

        Assert.Equal(StopReason.EndTurn, answer.StopReason?.Value());
        Assert.Contains(answer.Content, block => block.TryPickText(out var t) && t.Text.Length > 0);
    }

    [Fact]
    public async Task The_sdk_counts_a_messages_tokens()
    {
        var count = await Client().Messages.CountTokens(new MessageCountTokensParams
        {
            Model = Model,
            System = "You are terse.",
            Messages = [new UserMessageParam("Count these words for me please")],
        }).WaitAsync(DefaultTimeout);

        Assert.Equal(3 + 3 + 4 + 3 + 6, count.InputTokens);
    }

    [Fact]
    public async Task The_sdk_raises_the_platforms_errors_as_its_own()
    {
        var wrongKey = await Assert.ThrowsAnyAsync<AnthropicApiException>(() =>
            Client(key: "not-the-key").Messages.Create(new MessageCreateParams { Model = Model, MaxTokens = 16, Messages = [new UserMessageParam("Hi")] }));
        var unknownModel = await Assert.ThrowsAnyAsync<AnthropicApiException>(() =>
            Client().Messages.Create(new MessageCreateParams { Model = "no-such-model", MaxTokens = 16, Messages = [new UserMessageParam("Hi")] }));

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, wrongKey.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknownModel.StatusCode);
        Assert.Contains("no-such-model", unknownModel.Message);
    }

    private AnthropicClient Client(string? key = null) => new()
    {
        ApiKey = key ?? platform.ClientKey,
        BaseUrl = platform.ApiBaseAddress.ToString().TrimEnd('/'),
        MaxRetries = 0,
    };
}
