using System.ClientModel;
using System.Text;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // The SDK marks its Responses client as evaluation-only; the wire it speaks is what the platform answers.

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>
/// The official OpenAI .NET SDK's Responses client, with only its endpoint and key changed, against the whole
/// platform: an OpenAI-style deployment (<c>default</c>) and an Anthropic one (<c>claude-sim</c>), both reached
/// through Chat Completions, and an Azure OpenAI one with the Responses API (<c>azure-sim</c>), passed through — with
/// the conversation kept by the platform.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class OpenAIResponsesSdkTests(AppHostFixture platform)
{
    private static readonly TimeSpan DefaultTimeout = AppHostFixture.DefaultTimeout;

    [Theory]
    [InlineData("default")]
    [InlineData("claude-sim")]
    [InlineData("azure-sim")]
    public async Task The_sdk_creates_a_response_then_gets_and_deletes_it(string model)
    {
        var client = Client();

        ResponseResult response = await client.CreateResponseAsync(model, "Hello, platform", previousResponseId: null).WaitAsync(DefaultTimeout);

        Assert.Equal(ResponseStatus.Completed, response.Status);
        var text = response.GetOutputText();
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(text.Split(' ').Length, response.Usage.OutputTokenCount);
        ResponseResult stored = await client.GetResponseAsync(response.Id).WaitAsync(DefaultTimeout);
        Assert.Equal(text, stored.GetOutputText());
        ResponseDeletionResult deleted = await client.DeleteResponseAsync(response.Id).WaitAsync(DefaultTimeout);
        Assert.True(deleted.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => client.GetResponseAsync(response.Id));
        Assert.Equal(404, gone.Status);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("claude-sim")]
    [InlineData("azure-sim")]
    public async Task The_sdk_streams_a_response_to_its_completion(string model)
    {
        var text = new StringBuilder();
        ResponseResult? completed = null;

        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await foreach (var update in await Client().CreateResponseStreamingAsync(model, "Stream to me", previousResponseId: null, timeout.Token))
        {
            if (update is StreamingResponseOutputTextDeltaUpdate delta)
            {
                text.Append(delta.Delta);
            }
            if (update is StreamingResponseCompletedUpdate done)
            {
                completed = done.Response;
            }
        }

        Assert.NotEqual(0, text.Length);
        Assert.NotNull(completed);
        Assert.Equal(text.ToString(), completed.GetOutputText());
        Assert.Equal(text.ToString().Split(' ').Length, completed.Usage.OutputTokenCount);
    }

    [Theory]
    [InlineData("default")]
    [InlineData("claude-sim")]
    [InlineData("azure-sim")]
    public async Task The_sdk_runs_a_function_tool_round_trip_chained_by_previous_response_id(string model)
    {
        var client = Client();
        var weather = ResponseTool.CreateFunctionTool("get_weather",
            BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"""), strictModeEnabled: false, "The weather in a city.");
        var ask = new CreateResponseOptions(model, [ResponseItem.CreateUserMessageItem("What is the weather in Paris? Use get_weather.")]) { Tools = { weather } };

        ResponseResult call = await client.CreateResponseAsync(ask).WaitAsync(DefaultTimeout);

        var functionCall = Assert.Single(call.OutputItems.OfType<FunctionCallResponseItem>());
        Assert.Equal("get_weather", functionCall.FunctionName);
        Assert.Equal("sim", functionCall.FunctionArguments.ToObjectFromJson<Dictionary<string, string>>()!["city"]);
        var answerIt = new CreateResponseOptions(model, [ResponseItem.CreateFunctionCallOutputItem(functionCall.CallId, "Sunny, 21 °C")])
        {
            PreviousResponseId = call.Id,
            Tools = { weather },
        };
        ResponseResult answer = await client.CreateResponseAsync(answerIt).WaitAsync(DefaultTimeout);

        Assert.Equal(ResponseStatus.Completed, answer.Status);
        Assert.False(string.IsNullOrWhiteSpace(answer.GetOutputText()));
        Assert.Equal(call.Id, (await client.GetResponseAsync(answer.Id).WaitAsync(DefaultTimeout)).Value.PreviousResponseId);
    }

    [Fact]
    public async Task The_sdk_reads_a_cached_response_replayed_as_a_stream_under_its_own_id()
    {
        var client = Client();
        var input = $"Cache me for the SDK {Guid.NewGuid():N}";
        ResponseResult first = await client.CreateResponseAsync(AppHostFixture.CachedModel, input, previousResponseId: null).WaitAsync(DefaultTimeout);

        var text = new StringBuilder();
        ResponseResult? replayed = null;
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await foreach (var update in await client.CreateResponseStreamingAsync(AppHostFixture.CachedModel, input, previousResponseId: null, timeout.Token))
        {
            text.Append((update as StreamingResponseOutputTextDeltaUpdate)?.Delta);
            replayed = (update as StreamingResponseCompletedUpdate)?.Response ?? replayed;
        }

        Assert.NotNull(replayed);
        Assert.Equal(first.GetOutputText(), text.ToString());
        Assert.Equal(first.GetOutputText(), replayed.GetOutputText());
        Assert.NotEqual(first.Id, replayed.Id);
        Assert.Equal(replayed.GetOutputText(), (await client.GetResponseAsync(replayed.Id).WaitAsync(DefaultTimeout)).Value.GetOutputText());
    }

    private ResponsesClient Client() =>
        new(new ApiKeyCredential(platform.ClientKey), new ResponsesClientOptions { Endpoint = new Uri(platform.ApiBaseAddress, "/v1") });
}
