using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Completions;

/// <summary>The OpenAI-compatible surface: chat completions (JSON and SSE) and the model list.</summary>
public static class ChatCompletionsApi
{
    public const string ModelId = "sim-model";

    public static IEndpointRouteBuilder MapChatCompletionsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/v1").WithTags("OpenAI");
        api.MapPost("/chat/completions", CreateCompletionAsync)
            .WithName("CreateChatCompletion")
            .WithSummary("Answers a chat completion deterministically, as JSON or as server-sent events.");
        api.MapGet("/models", ListModels)
            .WithName("ListModels")
            .WithSummary("Lists the one simulated model.");
        app.MapPost("/openai/deployments/{deployment}/chat/completions", CreateAzureCompletionAsync)
            .WithTags("Azure OpenAI")
            .WithName("CreateAzureChatCompletion")
            .WithSummary("The same answers at Azure OpenAI's URL shape.");
        return app;
    }

    private static IResult ListModels() => TypedResults.Ok(new
    {
        @object = "list",
        data = new[] { new { id = ModelId, @object = "model", created = 1_700_000_000, owned_by = "agentplatform" } },
    });

    private static Task CreateCompletionAsync(HttpContext context, SimulatedCall call, CompletionGenerator generator, IOptionsMonitor<SimulatorOptions> options) =>
        SimulatorAuth.RefuseOpenAI(context, options.CurrentValue) ?? call.AnswerAsync(context, OpenAIWire.Instance, body => generator.Generate(body.Span));

    /// <summary>Azure OpenAI's shape: the deployment in the path, a required api-version, an api-key header.</summary>
    private static Task CreateAzureCompletionAsync(HttpContext context, SimulatedCall call, CompletionGenerator generator, IOptionsMonitor<SimulatorOptions> options) =>
        SimulatorAuth.RefuseAzure(context, options.CurrentValue) ?? call.AnswerAsync(context, OpenAIWire.Instance, body => generator.Generate(body.Span));
}
