using System.ClientModel;
using System.Text;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>The official OpenAI .NET SDK, with only its endpoint and key changed, against the whole platform.</summary>
[Collection(AppHostCollection.Name)]
public sealed class OpenAISdkTests(AppHostFixture platform)
{
    private static readonly TimeSpan DefaultTimeout = AppHostFixture.DefaultTimeout;

    [Fact]
    public async Task The_sdk_completes_a_chat()
    {
        var client = Client("default");

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Hello, platform")]).WaitAsync(DefaultTimeout);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(completion.Content[0].Text));
        Assert.Equal(completion.Content[0].Text.Split(' ').Length, completion.Usage.OutputTokenCount);
    }

    [Theory]
    [InlineData("claude-sim")]
    [InlineData("azure-sim")]
    public async Task The_local_pool_also_answers_through_the_anthropic_and_azure_adapters(string model)
    {
        ChatCompletion completion = await Client(model).CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Hello")]).WaitAsync(DefaultTimeout);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(completion.Content[0].Text.Split(' ').Length, completion.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task The_sdk_streams_a_chat_to_its_usage()
    {
        var client = Client("default");
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;

        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream to me")]).WithCancellation(new CancellationTokenSource(DefaultTimeout).Token))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage ??= update.Usage;
        }

        Assert.NotEqual(0, text.Length);
        Assert.NotNull(usage);
        Assert.Equal(text.ToString().Split(' ').Length, usage.OutputTokenCount);
    }

    [Fact]
    public async Task The_sdk_receives_a_tool_call_and_sends_its_result_back()
    {
        var client = Client("default");
        var weather = ChatTool.CreateFunctionTool("get_weather", "The weather in a city.",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""));
        var options = new ChatCompletionOptions { Tools = { weather } };
        List<ChatMessage> messages = [new UserChatMessage("What is the weather in Paris? Use get_weather.")];

        ChatCompletion call = await client.CompleteChatAsync(messages, options).WaitAsync(DefaultTimeout);

        Assert.Equal(ChatFinishReason.ToolCalls, call.FinishReason);
        var toolCall = Assert.Single(call.ToolCalls);
        Assert.Equal("get_weather", toolCall.FunctionName);
        Assert.Equal("sim", toolCall.FunctionArguments.ToObjectFromJson<Dictionary<string, string>>()!["city"]);

        messages.Add(new AssistantChatMessage(call));
        messages.Add(new ToolChatMessage(toolCall.Id, "Sunny, 21 °C"));
        ChatCompletion answer = await client.CompleteChatAsync(messages, options).WaitAsync(DefaultTimeout);

        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(answer.Content[0].Text));
    }

    [Fact]
    public async Task The_sdk_surfaces_a_wrong_key_as_401()
    {
        var client = Client("default", key: "not-the-key");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]).WaitAsync(DefaultTimeout));

        Assert.Equal(401, error.Status);
        Assert.Contains("Incorrect API key", error.Message);
    }

    [Fact]
    public async Task The_sdk_surfaces_an_unknown_model_as_404()
    {
        var client = Client("no-such-model");

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]).WaitAsync(DefaultTimeout));

        Assert.Equal(404, error.Status);
        Assert.Contains("no-such-model", error.Message);
    }

    [Fact]
    public async Task The_sdk_lists_the_default_model_group()
    {
        var models = new OpenAIClient(new ApiKeyCredential(platform.ClientKey), Options()).GetOpenAIModelClient();

        var list = await models.GetModelsAsync().WaitAsync(DefaultTimeout);

        Assert.Contains(list.Value, m => m.Id == "default");
    }

    [Fact]
    public async Task The_console_answers_with_its_sign_in_page_and_is_healthy()
    {
        using var http = new HttpClient { BaseAddress = platform.WebBaseAddress };

        var home = await http.GetStringAsync("/").WaitAsync(DefaultTimeout);
        var health = await http.GetAsync("/health").WaitAsync(DefaultTimeout);

        Assert.Contains("Sign in to AgentPlatform", home);
        Assert.DoesNotContain("Platform health", home);
        Assert.DoesNotContain(AppHostFixture.MasterKey, home);
        Assert.True(health.IsSuccessStatusCode);
    }

    [Fact]
    public async Task The_sdk_embeds_a_text_a_batch_and_shorter_vectors()
    {
        // The SDK asks for base64 by default: the vectors cross the platform as the deployment encoded them.
        var client = new EmbeddingClient(Aspire.Hosting.ModelPoolResourceBuilderExtensions.EmbeddingsModelGroup, new ApiKeyCredential(platform.ClientKey), Options());

        OpenAIEmbedding one = await client.GenerateEmbeddingAsync("Hello, platform").WaitAsync(DefaultTimeout);
        OpenAIEmbeddingCollection batch = await client.GenerateEmbeddingsAsync(["first text", "the second text", "Hello, platform"]).WaitAsync(DefaultTimeout);
        OpenAIEmbedding shorter = await client.GenerateEmbeddingAsync("Hello, platform", new EmbeddingGenerationOptions { Dimensions = 64 }).WaitAsync(DefaultTimeout);

        Assert.Equal(1536, one.ToFloats().Length);
        Assert.Equal(3, batch.Count);
        Assert.Equal(2 + 3 + 2, batch.Usage.InputTokenCount);
        Assert.Equal(one.ToFloats().ToArray(), batch[2].ToFloats().ToArray());
        Assert.NotEqual(batch[0].ToFloats().ToArray(), batch[1].ToFloats().ToArray());
        Assert.Equal(64, shorter.ToFloats().Length);
    }

    private ChatClient Client(string model, string? key = null) =>
        new(model, new ApiKeyCredential(key ?? platform.ClientKey), Options());

    private OpenAIClientOptions Options() => new()
    {
        Endpoint = new Uri(platform.ApiBaseAddress, "/v1"),
        NetworkTimeout = DefaultTimeout,
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
    };
}
