using AgentPlatform.Contracts.OpenAI;

namespace AgentPlatform.Router.Providers;

/// <summary>What becomes of an Anthropic Messages request at a deployment that speaks OpenAI's Chat Completions.</summary>
internal static class MessagesTranslation
{
    /// <summary>
    /// Messages requests reach Anthropic deployments only, passed through; their translation to Chat
    /// Completions (issue 23) is not built yet, so such a deployment refuses them with a 400 that says so.
    /// </summary>
    public static void RefuseUntilBuilt(ChatRequestBody request)
    {
        if (request.Api == ModelApi.Messages)
        {
            throw new UntranslatableRequestException(
                "Anthropic Messages requests are passed to 'anthropic' deployments only; this deployment speaks OpenAI's Chat Completions. Call /v1/chat/completions for this model.",
                "model");
        }
    }
}
