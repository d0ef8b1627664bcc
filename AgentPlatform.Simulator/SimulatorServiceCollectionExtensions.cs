using AgentPlatform.Simulator;
using AgentPlatform.Simulator.Completions;
using AgentPlatform.Simulator.Embeddings;
using AgentPlatform.Simulator.Faults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

public static class SimulatorServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddSimulatorServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptionsWithValidateOnStart<SimulatorOptions>()
            .BindConfiguration(SimulatorOptions.SectionName)
            .ValidateDataAnnotations();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SimulatorOptions>, SimulatorFaultsValidator>());
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.CamelCase);

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton(_ => new Random());
        builder.Services.TryAddSingleton<CompletionGenerator>();
        builder.Services.TryAddSingleton<EmbeddingGenerator>();
        builder.Services.TryAddSingleton<FaultInjector>();
        builder.Services.TryAddSingleton<SimulatedCall>();
        builder.Services.TryAddSingleton<SimulatorStats>();
        return builder;
    }
}
