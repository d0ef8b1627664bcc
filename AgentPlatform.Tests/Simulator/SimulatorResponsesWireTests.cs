using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgentPlatform.Simulator;
using AgentPlatform.Tests.Infrastructure;
using OpenAI.Responses;

#pragma warning disable OPENAI001 // The SDK marks its Responses client as evaluation-only; it is the judge of the wire here.

namespace AgentPlatform.Tests.Simulator;

/// <summary>
/// The simulator's Responses API, judged by the official OpenAI SDK (which reads every event it sends), and at
/// Azure OpenAI's v1 URL shape: so a deployment with the Responses API can be tried offline.
/// </summary>
public sealed class SimulatorResponsesWireTests : IAsyncLifetime
{
    private const string ProviderKey = "sk-sim-responses";
    private KestrelApp<SimulatorOptions> _simulator = null!;

    public Task InitializeAsync()
    {
        _simulator = new KestrelApp<SimulatorOptions>(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Warning",
            ["Simulator:OutputTokens"] = "6",
            ["Simulator:ApiKey"] = ProviderKey,
        }).Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _simulator.DisposeAsync();

    private ResponsesClient Client(string key = ProviderKey) =>
        new(new ApiKeyCredential(key), new ResponsesClientOptions { Endpoint = new Uri(_simulator.BaseAddress, "/v1") });

    [Fact]
    public async Task The_sdk_reads_a_response_and_a_stream_whose_deltas_make_its_text()
    {
        ResponseResult response = await Client().CreateResponseAsync("sim-model", "Hello", previousResponseId: null);
        var text = new StringBuilder();
        ResponseResult? completed = null;
        await foreach (var update in await Client().CreateResponseStreamingAsync("sim-model", "Hello", previousResponseId: null))
        {
            text.Append((update as StreamingResponseOutputTextDeltaUpdate)?.Delta);
            completed = (update as StreamingResponseCompletedUpdate)?.Response ?? completed;
        }

        Assert.Equal((ResponseStatus.Completed, 6), (response.Status, response.Usage.OutputTokenCount));
        Assert.Equal(6, response.GetOutputText().Split(' ').Length);
        Assert.NotNull(completed);
        Assert.Equal(text.ToString(), completed.GetOutputText());
        Assert.Equal(6, completed.Usage.OutputTokenCount);
        Assert.Equal(response.Usage.InputTokenCount, completed.Usage.InputTokenCount);
    }

    [Fact]
    public async Task The_sdk_reads_a_function_call_and_a_wrong_key_is_refused()
    {
        var tool = ResponseTool.CreateFunctionTool("lookup", BinaryData.FromString("""{"type":"object","properties":{"q":{"type":"string"}}}"""), strictModeEnabled: false);
        var options = new CreateResponseOptions("sim-model", [ResponseItem.CreateUserMessageItem("Use the lookup tool")]) { Tools = { tool } };

        ResponseResult response = await Client().CreateResponseAsync(options);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Client("sk-wrong").CreateResponseAsync("sim-model", "Hi", previousResponseId: null));

        var call = Assert.Single(response.OutputItems.OfType<FunctionCallResponseItem>());
        Assert.Equal(("lookup", "sim"), (call.FunctionName, call.FunctionArguments.ToObjectFromJson<Dictionary<string, string>>()!["q"]));
        Assert.Equal(401, refused.Status);
    }

    [Fact]
    public async Task Azure_v1_takes_the_deployment_in_the_body_and_its_api_key_header()
    {
        using var client = _simulator.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/openai/v1/responses") { Content = JsonContent.Create(new { model = "sim-deployment", input = "Hi" }) };
        request.Headers.Add("api-key", ProviderKey);
        using var withoutKey = await client.PostAsJsonAsync("/openai/v1/responses", new { model = "sim-deployment", input = "Hi" });

        using var answered = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal("sim-deployment", (await answered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("model").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, withoutKey.StatusCode);
    }
}
