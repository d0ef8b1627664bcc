using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Providers.Anthropic;
using AgentPlatform.Router.Providers.AzureOpenAI;
using AgentPlatform.Router.Providers.OpenAI;

namespace AgentPlatform.Tests.Router.Configuration;

public sealed class RouterOptionsValidatorTests
{
    [Fact]
    public void A_complete_pool_is_valid()
    {
        var options = Pool(new DeploymentOptions { Name = "a", BaseUrl = "https://api.openai.com/v1", Model = "gpt-4o" });

        Assert.True(new RouterPoolValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void An_empty_pool_is_refused()
    {
        var result = new RouterPoolValidator().Validate(null, new RouterOptions());

        Assert.Contains("Router:ModelGroups is empty", result.FailureMessage);
    }

    [Fact]
    public void Every_broken_field_is_named_by_its_configuration_key()
    {
        var options = Pool(
            new DeploymentOptions { Name = "a", Provider = "openia", BaseUrl = "not a url", Model = "", Weight = 0 },
            new DeploymentOptions { Name = "a", BaseUrl = "ftp://x", Model = "m" });

        var failures = new RouterPoolValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:Provider 'openia'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:BaseUrl", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:Model", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:Weight", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:1:Name 'a' is used twice", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:1:BaseUrl 'ftp://x'", StringComparison.Ordinal));
    }

    [Fact]
    public void Provider_settings_that_do_not_fit_are_named()
    {
        var options = Pool(
            new DeploymentOptions { Name = "a", Provider = "anthropic", BaseUrl = "https://api.anthropic.com", Model = "m", MaxOutputTokens = 0 },
            new DeploymentOptions { Name = "b", Provider = "openai", BaseUrl = "https://api.openai.com/v1", Model = "m", ApiVersion = "2024-10-21" },
            new DeploymentOptions { Name = "c", Provider = "azure-openai", BaseUrl = "https://r.openai.azure.com", Model = "d", ApiVersion = "2024-10-21", ResponsesApi = true },
            new DeploymentOptions { Name = "d", Provider = "anthropic", BaseUrl = "https://api.anthropic.com", Model = "m", ResponsesApi = true });

        var failures = new RouterPoolValidator().Validate(null, options).Failures!.ToList();

        Assert.Equal(3, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:MaxOutputTokens 0 must be at least 1", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:1:ApiVersion is only used by provider 'azure-openai'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:3:ResponsesApi is for 'openai' and 'azure-openai' chat deployments", StringComparison.Ordinal));
    }

    [Fact]
    public void Fallbacks_must_name_other_groups_that_exist()
    {
        var options = Pool(new DeploymentOptions { Name = "a", BaseUrl = "http://x/v1", Model = "m", ContextWindow = 0 });
        options.ModelGroups["g"].Fallbacks = ["g", "nowhere"];
        options.ModelGroups["g"].ContextWindowFallbacks = ["missing"];

        var failures = new RouterPoolValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains("Router:ModelGroups:g:Fallbacks:0 names the group itself.", failures);
        Assert.Contains("Router:ModelGroups:g:Fallbacks:1 'nowhere' is not a model group.", failures);
        Assert.Contains("Router:ModelGroups:g:ContextWindowFallbacks:0 'missing' is not a model group.", failures);
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:ContextWindow 0 must be at least 1", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_strategy_and_negative_prices_are_named()
    {
        var options = Pool(new DeploymentOptions { Name = "a", BaseUrl = "http://x/v1", Model = "m", OutputPricePerMillion = -1 });
        options.ModelGroups["g"].Strategy = "fastest";

        var failures = new RouterPoolValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Strategy 'fastest' is not one of weighted, least-busy", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g:Deployments:0:OutputPricePerMillion -1", StringComparison.Ordinal));
    }

    [Fact]
    public void The_api_key_never_appears_in_a_deployments_text()
    {
        var deployment = new Deployment("g", new DeploymentOptions { Name = "a", BaseUrl = "https://x/v1", Model = "m", ApiKey = "sk-secret-123" }, new OpenAIAdapter(), TimeProvider.System);

        Assert.DoesNotContain("sk-secret-123", deployment.ToString());
        Assert.Equal(new Uri("https://x/v1/chat/completions"), deployment.Endpoint.RequestUri);
    }

    [Theory]
    [InlineData("openai", "https://api.openai.com/v1/", "gpt-4o", null, "https://api.openai.com/v1/chat/completions")]
    [InlineData("azure-openai", "https://res.openai.azure.com/", "my deployment", null, "https://res.openai.azure.com/openai/deployments/my%20deployment/chat/completions?api-version=2024-10-21")]
    [InlineData("azure-openai", "https://res.openai.azure.com", "d", "2025-01-01-preview", "https://res.openai.azure.com/openai/deployments/d/chat/completions?api-version=2025-01-01-preview")]
    [InlineData("anthropic", "https://api.anthropic.com", "claude-sonnet-4-5", null, "https://api.anthropic.com/v1/messages")]
    [InlineData("openai", "https://api.openai.com/v1", "text-embedding-3-small", null, "https://api.openai.com/v1/embeddings", DeploymentKinds.Embeddings)]
    [InlineData("azure-openai", "https://res.openai.azure.com", "emb", null, "https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21", DeploymentKinds.Embeddings)]
    public void Each_provider_puts_requests_at_its_own_url(string provider, string baseUrl, string model, string? apiVersion, string expected, string kind = DeploymentKinds.Chat)
    {
        IProviderAdapter adapter = provider switch
        {
            "openai" => new OpenAIAdapter(),
            "azure-openai" => new AzureOpenAIAdapter(),
            _ => new AnthropicAdapter(TimeProvider.System),
        };

        var uri = adapter.RequestUri(new DeploymentOptions { Name = "d", Provider = provider, BaseUrl = baseUrl, Model = model, ApiVersion = apiVersion, Kind = kind });

        Assert.Equal(expected, uri.AbsoluteUri);
    }

    [Fact]
    public void A_group_holds_one_kind_falls_back_to_its_kind_and_embeds_only_where_the_provider_can()
    {
        var options = Pool(
            new DeploymentOptions { Name = "a", BaseUrl = "https://api.openai.com/v1", Model = "text-embedding-3-small", Kind = DeploymentKinds.Embeddings },
            new DeploymentOptions { Name = "b", BaseUrl = "https://api.openai.com/v1", Model = "gpt-4o" });
        options.ModelGroups["claude"] = new ModelGroupOptions
        {
            Deployments = [new DeploymentOptions { Name = "c", Provider = ProviderNames.Anthropic, BaseUrl = "https://api.anthropic.com", Model = "m", Kind = DeploymentKinds.Embeddings }],
        };
        options.ModelGroups["vectors"] = new ModelGroupOptions
        {
            Deployments = [new DeploymentOptions { Name = "v", BaseUrl = "https://api.openai.com/v1", Model = "e", Kind = DeploymentKinds.Embeddings }],
            Fallbacks = ["chat"],
        };
        options.ModelGroups["chat"] = new ModelGroupOptions
        {
            Deployments = [new DeploymentOptions { Name = "x", BaseUrl = "https://api.openai.com/v1", Model = "gpt-4o", Kind = "images" }],
        };

        var failures = new RouterPoolValidator().Validate(null, options).Failures!.ToList();

        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:g mixes deployments of Kind 'embeddings' and 'chat'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:claude:Deployments:0:Kind 'embeddings' is not offered by provider 'anthropic'", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:chat:Deployments:0:Kind 'images' is not one of chat, embeddings", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Router:ModelGroups:vectors:Fallbacks:0 'chat' answers 'images', not 'embeddings'", StringComparison.Ordinal));
    }

    private static RouterOptions Pool(params DeploymentOptions[] deployments) => new()
    {
        ModelGroups = { ["g"] = new ModelGroupOptions { Deployments = [.. deployments] } },
    };
}
