using AgentPlatform.Simulator.Completions;
using Microsoft.Extensions.Options;

namespace AgentPlatform.Simulator.Embeddings;

/// <summary>OpenAI's embeddings, at OpenAI's URL and at Azure OpenAI's, with the same faults as completions.</summary>
public static class EmbeddingsApi
{
    public static IEndpointRouteBuilder MapEmbeddingsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/embeddings", CreateAsync)
            .WithTags("OpenAI")
            .WithName("CreateEmbeddings")
            .WithSummary("Answers an embeddings request with deterministic unit vectors (floats or base64).");
        app.MapPost("/openai/deployments/{deployment}/embeddings", CreateAzureAsync)
            .WithTags("Azure OpenAI")
            .WithName("CreateAzureEmbeddings")
            .WithSummary("The same answers at Azure OpenAI's URL shape.");
        return app;
    }

    private static Task CreateAsync(HttpContext context, SimulatedCall call, EmbeddingGenerator generator, IOptionsMonitor<SimulatorOptions> options) =>
        SimulatorAuth.RefuseOpenAI(context, options.CurrentValue) ?? call.AnswerEmbeddingsAsync(context, (body, output) => generator.Generate(body.Span, output));

    private static Task CreateAzureAsync(HttpContext context, SimulatedCall call, EmbeddingGenerator generator, IOptionsMonitor<SimulatorOptions> options) =>
        SimulatorAuth.RefuseAzure(context, options.CurrentValue) ?? call.AnswerEmbeddingsAsync(context, (body, output) => generator.Generate(body.Span, output));
}
